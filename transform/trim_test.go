package transform

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/bookcovers/image-worker/cover"
)

func TestTrimToOriginal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		box              cover.Rect
		sampleW, sampleH int
		dispW, dispH     int
		want             cover.Rect
	}{
		{"full-size sample: the box as found", cover.Rect{Left: 30, Top: 50, Width: 400, Height: 600}, 480, 700, 480, 700, cover.Rect{Left: 30, Top: 50, Width: 400, Height: 600}},
		{"half-size sample: scaled and grown by one sample pixel", cover.Rect{Left: 60, Top: 80, Width: 800, Height: 1200}, 920, 1360, 1840, 2720, cover.Rect{Left: 118, Top: 158, Width: 1604, Height: 2404}},
		{"growing stops at the edges", cover.Rect{Left: 0, Top: 0, Width: 700, Height: 1300}, 920, 1360, 1840, 2720, cover.Rect{Left: 0, Top: 0, Width: 1402, Height: 2602}},
		{"flat image: find_trim found nothing", cover.Rect{}, 480, 700, 480, 700, cover.Rect{}},
		{"keeps under 40% of the width: not a border", cover.Rect{Left: 150, Top: 10, Width: 180, Height: 680}, 480, 700, 480, 700, cover.Rect{}},
		{"keeps under 40% of the height: not a border", cover.Rect{Left: 10, Top: 200, Width: 460, Height: 270}, 480, 700, 480, 700, cover.Rect{}},
		{"under 1% cut on both axes: left alone", cover.Rect{Left: 2, Top: 3, Width: 476, Height: 694}, 480, 700, 480, 700, cover.Rect{}},
		{"under 1% on one axis only is still trimmed", cover.Rect{Left: 2, Top: 40, Width: 476, Height: 620}, 480, 700, 480, 700, cover.Rect{Left: 2, Top: 40, Width: 476, Height: 620}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := trimToOriginal(tc.box, tc.sampleW, tc.sampleH, tc.dispW, tc.dispH); got != tc.want {
				t.Fatalf("trimToOriginal(%s in %dx%d onto %dx%d) = %s; want %s", tc.box, tc.sampleW, tc.sampleH, tc.dispW, tc.dispH, got, tc.want)
			}
		})
	}
}

// bordered is a cover drawn at (left, top) on a canvas of colour bg, as a
// high-quality JPEG or a PNG: a scan with a border.
type bordered struct {
	data    []byte
	content cover.Rect // where the cover is on the canvas
}

func borderedCover(tb testing.TB, src image.Image, left, top, right, bottom int, bg color.Color, asPNG bool) bordered {
	tb.Helper()
	b := src.Bounds()
	canvas := image.NewRGBA(image.Rect(0, 0, left+b.Dx()+right, top+b.Dy()+bottom))
	draw.Draw(canvas, canvas.Bounds(), image.NewUniform(bg), image.Point{}, draw.Src)
	draw.Draw(canvas, image.Rect(left, top, left+b.Dx(), top+b.Dy()), src, b.Min, draw.Src)
	var buf bytes.Buffer
	var err error
	if asPNG {
		err = png.Encode(&buf, canvas)
	} else {
		err = jpeg.Encode(&buf, canvas, &jpeg.Options{Quality: 92})
	}
	if err != nil {
		tb.Fatal(err)
	}
	return bordered{data: buf.Bytes(), content: cover.Rect{Left: left, Top: top, Width: b.Dx(), Height: b.Dy()}}
}

// photoCover decodes the 1600x2400 baseline photo, subsampled by step.
func photoCover(tb testing.TB, step int) image.Image {
	tb.Helper()
	img, err := jpeg.Decode(bytes.NewReader(testdata(tb, "photo-1600x2400-baseline.jpg")))
	if err != nil {
		tb.Fatal(err)
	}
	if step == 1 {
		return img
	}
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx()/step, b.Dy()/step))
	for y := range out.Bounds().Dy() {
		for x := range out.Bounds().Dx() {
			out.Set(x, y, img.At(b.Min.X+x*step, b.Min.Y+y*step))
		}
	}
	return out
}

// contains reports whether box holds want and is at most slack pixels
// larger on each side.
func contains(box, want cover.Rect, slack int) bool {
	return box.Left <= want.Left && box.Top <= want.Top &&
		box.Left+box.Width >= want.Left+want.Width && box.Top+box.Height >= want.Top+want.Height &&
		want.Left-box.Left <= slack && want.Top-box.Top <= slack &&
		box.Left+box.Width-(want.Left+want.Width) <= slack && box.Top+box.Height-(want.Top+want.Height) <= slack
}

func TestTrimBoxFindsTheBorder(t *testing.T) {
	r := newTestRenderer(t, nil)
	small := photoCover(t, 4) // 400x600
	white, black := color.RGBA{255, 255, 255, 255}, color.RGBA{12, 12, 12, 255}
	big := borderedCover(t, photoCover(t, 1), 120, 160, 120, 160, white, false) // 1840x2720: found in an 800 px sample
	for _, c := range []struct {
		name  string
		b     bordered
		slack int
	}{
		{"white border, JPEG, sampled", big, 6},
		{"white border, JPEG, full size", borderedCover(t, small, 30, 50, 50, 40, white, false), 2},
		{"dark border, PNG", borderedCover(t, small, 40, 20, 40, 70, black, true), 1},
		{"border on one side only", borderedCover(t, small, 0, 0, 0, 90, white, true), 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			box, err := r.TrimBox(context.Background(), c.b.data, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !contains(box, c.b.content, c.slack) {
				t.Fatalf("TrimBox = %s; want the cover at %s, at most %d px larger on each side", box, c.b.content, c.slack)
			}
		})
	}
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"a cover without a border", testdata(t, "photo-1600x2400-baseline.jpg")},
		{"a small picture on a flat page (not a border)", borderedCover(t, photoCover(t, 8), 200, 300, 200, 300, white, true).data},
		{"a flat image", borderedCover(t, image.NewRGBA(image.Rect(0, 0, 300, 450)), 0, 0, 0, 0, white, true).data},
	} {
		t.Run(c.name, func(t *testing.T) {
			box, err := r.TrimBox(context.Background(), c.data, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !box.IsZero() {
				t.Fatalf("TrimBox = %s; want none", box)
			}
		})
	}
}

// TestTrimmedRenderIsTheCover: the trimmed render of a bordered scan has
// the cover's aspect and pixels, and its corners are the cover's, not the
// border's; the untrimmed render keeps the border.
func TestTrimmedRenderIsTheCover(t *testing.T) {
	r := newTestRenderer(t, nil)
	plain := testdata(t, "photo-1600x2400-baseline.jpg")
	b := borderedCover(t, photoCover(t, 1), 120, 160, 120, 160, color.RGBA{255, 255, 255, 255}, false)
	box, err := r.TrimBox(context.Background(), b.data, 0)
	if err != nil || box.IsZero() {
		t.Fatalf("TrimBox = %s, %v; want a box", box, err)
	}
	for _, req := range []Request{
		{Width: 320, Format: cover.WebP},
		{Width: 200, Height: 300, Format: cover.AVIF},
		{Width: 300, Height: 300, Fit: true, Format: cover.JPEG},
	} {
		trimmedReq := req
		trimmedReq.Trim = box
		got := decodeOutput(t, render(t, r, b.data, trimmedReq).Bytes)
		want := decodeOutput(t, render(t, r, plain, req).Bytes)
		// The box may be a pixel or two larger than the cover (it grows
		// outward when found in a sample), so a width-only output may be a
		// pixel off in height.
		if got.width != want.width || (req.Height > 0 && got.height != want.height) || got.height < want.height-1 || got.height > want.height+1 {
			t.Errorf("%+v: trimmed render is %dx%d; the cover alone renders %dx%d", req, got.width, got.height, want.width, want.height)
			continue
		}
		if got.height != want.height { // compare the same rows
			got.pixels = got.pixels.(interface {
				SubImage(image.Rectangle) image.Image
			}).SubImage(image.Rect(0, 0, got.width, min(got.height, want.height)))
		}
		gotGrid, wantGrid := lumaGrid(got.pixels, 8, 12), lumaGrid(want.pixels, 8, 12)
		if req.Fit {
			// The padding is the box's dominant colour, taken from a sample
			// of another scale than the whole cover's, so it may pick a
			// neighbouring colour; it must not be the border's white.
			if pad := luma(meanRGB(got.pixels, 0, 0, 0.05, 0.05)); pad > 245 {
				t.Errorf("%+v: padding luma %.1f: painted with the border's colour", req, pad)
			}
			for i := range gotGrid { // the picture: the middle six of eight columns
				gotGrid[i], wantGrid[i] = gotGrid[i][1:7], wantGrid[i][1:7]
			}
		}
		if d := gridDiff(gotGrid, wantGrid); d > 3 {
			t.Errorf("%+v: trimmed render differs from the cover alone by %.2f luma per cell; want <= 3", req, d)
		}
		if req.Fit {
			continue
		}
		untrimmed := decodeOutput(t, render(t, r, b.data, req).Bytes)
		corner := luma(meanRGB(untrimmed.pixels, 0, 0, 0.03, 0.03))
		if corner < 250 {
			t.Errorf("%+v: untrimmed corner luma %.1f; the border (white) should still be there", req, corner)
		}
		if c := luma(meanRGB(got.pixels, 0, 0, 0.03, 0.03)); c > 245 {
			t.Errorf("%+v: trimmed corner luma %.1f: the border is still there", req, c)
		}
	}
}

// TestTrimmedRenderOfARotatedOriginal: the box is in upright pixels; an
// EXIF-rotated original is turned before the crop.
func TestTrimmedRenderOfARotatedOriginal(t *testing.T) {
	r := newTestRenderer(t, nil)
	src := testdata(t, "photo-exif-orientation-6.jpg")
	info, err := Probe(src, DefaultConfig().MaxPixels)
	if err != nil {
		t.Fatal(err)
	}
	dw, dh := info.DisplaySize()
	box := cover.Rect{Left: dw / 2, Top: dh / 4, Width: dw / 2, Height: dh / 2} // the right half, middle
	got := decodeOutput(t, render(t, r, src, Request{Width: box.Width / 2, Format: cover.WebP, Trim: box}).Bytes)
	whole := decodeOutput(t, render(t, r, src, Request{Width: dw / 2, Format: cover.WebP}).Bytes)
	if got.width != box.Width/2 || got.height != box.Height/2 {
		t.Fatalf("trimmed render %dx%d; want %dx%d", got.width, got.height, box.Width/2, box.Height/2)
	}
	region := whole.pixels.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(image.Rect(whole.width/2, whole.height/4, whole.width, whole.height*3/4))
	if d := gridDiff(lumaGrid(got.pixels, 6, 8), lumaGrid(region, 6, 8)); d > 3 {
		t.Fatalf("trimmed render differs from the same region of the upright render by %.2f luma per cell; want <= 3", d)
	}
}

func TestTrimmedLadderMatchesSingleRenders(t *testing.T) {
	r := newTestRenderer(t, nil)
	small := photoCover(t, 4)
	for _, c := range []struct {
		name string
		b    bordered
	}{
		{"JPEG (DCT shrink)", borderedCover(t, photoCover(t, 1), 120, 160, 120, 160, color.RGBA{255, 255, 255, 255}, false)},
		{"PNG", borderedCover(t, small, 40, 20, 40, 70, color.RGBA{12, 12, 12, 255}, true)},
	} {
		t.Run(c.name, func(t *testing.T) {
			box, err := r.TrimBox(context.Background(), c.b.data, 0)
			if err != nil || box.IsZero() {
				t.Fatalf("TrimBox = %s, %v; want a box", box, err)
			}
			reqs := []Request{
				{Width: 96, Format: cover.WebP, Trim: box},
				{Width: 320, Format: cover.WebP, Trim: box},
				{Width: 320, Format: cover.AVIF, Trim: box},
				{Width: 200, Height: 200, Format: cover.WebP, Trim: box},
				{Width: 300, Height: 200, Fit: true, Format: cover.WebP, Trim: box},
				{Width: 160, Format: cover.WebP}, // untrimmed beside trimmed outputs
			}
			before := r.Renders()
			got, err := r.RenderLadder(context.Background(), c.b.data, reqs)
			if err != nil {
				t.Fatal(err)
			}
			if n := r.Renders() - before; n != 1 {
				t.Fatalf("ladder took %d render operations; want 1", n)
			}
			for i, req := range reqs {
				single := render(t, r, c.b.data, req)
				a, b := decodeOutput(t, got[i].Bytes), decodeOutput(t, single.Bytes)
				if a.width != b.width || a.height != b.height {
					t.Fatalf("%+v: ladder %dx%d, single %dx%d", req, a.width, a.height, b.width, b.height)
				}
				if loss := 1 - ssim(t, a.pixels, b.pixels); loss > maxLadderSSIMLoss {
					t.Errorf("%+v: ladder output is %.4f from the single render (1-SSIM); want <= %g", req, loss, maxLadderSSIMLoss)
				}
			}
		})
	}
}

func TestTrimOutsideTheOriginalIsInvalid(t *testing.T) {
	r := newTestRenderer(t, nil)
	src := testdata(t, "cover-50x75-tiny.jpg")
	for _, box := range []cover.Rect{{Left: 10, Top: 0, Width: 50, Height: 75}, {Left: 0, Top: 0, Width: 0, Height: 10}, {Left: -1, Top: 0, Width: 10, Height: 10}} {
		_, err := r.Render(context.Background(), src, Request{Width: 40, Format: cover.WebP, Trim: box})
		if !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("Render with trim %s of a 50x75 original: %v; want ErrInvalidRequest", box, err)
		}
		res, errs, err := r.RenderLadderEach(context.Background(), src, []Request{{Width: 40, Format: cover.WebP, Trim: box}, {Width: 40, Format: cover.WebP}})
		if err != nil || !errors.Is(errs[0], ErrInvalidRequest) || errs[1] != nil || len(res[1].Bytes) == 0 {
			t.Errorf("ladder with trim %s: err %v, errs %v; want the trimmed output invalid and the other rendered", box, err, errs)
		}
	}
}

// TestTrimmedVariantAndMeta: a content key with a trim box renders the
// box (RenderVariant, the variant cache's fill), and MetaOf describes the
// box: its size, and previews without the border.
func TestTrimmedVariantAndMeta(t *testing.T) {
	r := newTestRenderer(t, nil)
	b := borderedCover(t, photoCover(t, 4), 40, 60, 40, 60, color.RGBA{255, 255, 255, 255}, true) // 400x600 in 480x720
	key := cover.VariantKey{Content: cover.ContentSum(b.data), Trim: b.content, Width: 200, Format: "webp"}
	out, err := r.RenderVariant(context.Background(), b.data, key)
	if err != nil {
		t.Fatalf("RenderVariant(%s): %v", key, err)
	}
	got := decodeOutput(t, out)
	if got.width != 200 || got.height != 300 {
		t.Fatalf("RenderVariant(%s) is %dx%d, want the box's aspect at 200x300", key, got.width, got.height)
	}
	if c := luma(meanRGB(got.pixels, 0, 0, 0.03, 0.03)); c > 245 {
		t.Errorf("trimmed variant corner luma %.1f: the border is still there", c)
	}
	key.Trim = cover.Rect{}
	if whole := decodeOutput(t, mustRenderVariant(t, r, b.data, key)); whole.width != 200 || whole.height != 300 {
		t.Errorf("untrimmed variant %dx%d, want 200x300", whole.width, whole.height)
	} else if c := luma(meanRGB(whole.pixels, 0, 0, 0.03, 0.03)); c < 250 {
		t.Errorf("untrimmed variant corner luma %.1f; the border (white) should be there", c)
	}

	whole, err := r.Meta(context.Background(), b.data)
	if err != nil {
		t.Fatal(err)
	}
	trimmed, err := r.MetaOf(context.Background(), b.data, b.content)
	if err != nil {
		t.Fatal(err)
	}
	if whole.Width != 480 || whole.Height != 720 || trimmed.Width != 400 || trimmed.Height != 600 {
		t.Errorf("Meta %dx%d, MetaOf the box %dx%d; want 480x720 and 400x600", whole.Width, whole.Height, trimmed.Width, trimmed.Height)
	}
	if trimmed.BlurHash == whole.BlurHash || trimmed.LQIP == whole.LQIP || trimmed.BlurHash == "" || trimmed.LQIP == "" {
		t.Errorf("MetaOf the box gave the whole original's previews (or none): %q %q", trimmed.BlurHash, whole.BlurHash)
	}
	if _, err := r.MetaOf(context.Background(), b.data, cover.Rect{Left: 400, Top: 0, Width: 200, Height: 10}); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("MetaOf a box outside the original: %v, want ErrInvalidRequest", err)
	}
}

func mustRenderVariant(t *testing.T, r *Renderer, src []byte, key cover.VariantKey) []byte {
	t.Helper()
	b, err := r.RenderVariant(context.Background(), src, key)
	if err != nil {
		t.Fatalf("RenderVariant(%s): %v", key, err)
	}
	return b
}
