package transform

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"testing"

	"github.com/bookcovers/image-worker/cover"
)

// manyFrameGIF encodes n 8x12 frames; frame 0 is red, the rest blue.
func manyFrameGIF(t *testing.T, n int) []byte {
	t.Helper()
	anim := &gif.GIF{}
	for i := range n {
		img := image.NewPaletted(image.Rect(0, 0, 8, 12), palette.Plan9)
		c := color.RGBA{0, 0, 255, 255}
		if i == 0 {
			c = color.RGBA{255, 0, 0, 255}
		}
		for y := range 12 {
			for x := range 8 {
				img.Set(x, y, c)
			}
		}
		anim.Image = append(anim.Image, img)
		anim.Delay = append(anim.Delay, 1)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, anim); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestFirstGIFFrameKeepsOnlyTheFirstFrame(t *testing.T) {
	src := manyFrameGIF(t, 50)
	one := firstGIFFrame(src)
	g, err := gif.DecodeAll(bytes.NewReader(one))
	if err != nil || len(g.Image) != 1 {
		t.Fatalf("first frame: %d frames, %v; want 1", len(g.Image), err)
	}
	if r, _, _, _ := g.Image[0].At(2, 2).RGBA(); r>>8 != 255 {
		t.Errorf("kept frame is not the first (red) one")
	}
	if info, err := Probe(one, 0); err != nil || info.Frames != 1 {
		t.Errorf("Probe(first frame) = %+v, %v", info, err)
	}
}

// TestRenderGIFWithThousandsOfFrames: libvips refuses a GIF of more than
// ~4096 frames; only its first frame reaches libvips, so it renders.
func TestRenderGIFWithThousandsOfFrames(t *testing.T) {
	r := newTestRenderer(t, nil)
	res, err := r.Render(context.Background(), manyFrameGIF(t, 5000), Request{Width: 16, Format: cover.WebP})
	if err != nil {
		t.Fatalf("Render(5000-frame GIF) = %v", err)
	}
	if res.Width != 8 || res.Height != 12 {
		t.Errorf("output %dx%d, want the first frame's 8x12 (no enlarge)", res.Width, res.Height)
	}
}
