package transform

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"math"
	"strconv"
	"testing"

	"github.com/bookcovers/image-worker/cover"
)

// hexRGB parses "#rrggbb".
func hexRGB(tb testing.TB, s string) [3]float64 {
	tb.Helper()
	n, err := strconv.ParseUint(s[1:], 16, 32)
	if len(s) != 7 || s[0] != '#' || err != nil {
		tb.Fatalf("colour %q is not #rrggbb", s)
	}
	return [3]float64{float64(n >> 16 & 0xff), float64(n >> 8 & 0xff), float64(n & 0xff)}
}

// colourDist is the largest per-channel difference of two colours.
func colourDist(a, b [3]float64) float64 {
	return max(math.Abs(a[0]-b[0]), math.Abs(a[1]-b[1]), math.Abs(a[2]-b[2]))
}

// region is the mean colour of the pixels [x0,x1) x [y0,y1) of img.
func region(img image.Image, x0, y0, x1, y1 int) [3]float64 {
	b := img.Bounds()
	return meanRGB(img, float64(x0)/float64(b.Dx()), float64(y0)/float64(b.Dy()), float64(x1)/float64(b.Dx()), float64(y1)/float64(b.Dy()))
}

// TestRenderFit: a fit box is exactly the box, with the whole cover inside
// it, centred, and the rest padded with the cover's dominant colour (the
// one Meta reports). A tall cover in a wide box has pad columns left and
// right and the cover, whole, between them; a panorama in a tall box has
// pad rows above and below.
func TestRenderFit(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	tests := []struct {
		name         string
		file         string
		w, h         int
		inner        [4]int // where the cover is: x0, y0, x1, y1
		innerW       int    // the width-only render the cover must match
		vertical     bool   // pad columns (left, right) rather than rows
		padThickness int
	}{
		{"tall cover in a wide box", "photo-1600x2400-baseline.jpg", 600, 300, [4]int{200, 0, 400, 300}, 200, true, 200},
		{"tall cover in a square box", "photo-1600x2400-baseline.jpg", 300, 300, [4]int{50, 0, 250, 300}, 200, true, 50},
		{"panorama in a tall box", "panorama-4272x356.jpg", 200, 300, [4]int{0, 142, 200, 158}, 200, false, 142},
	}
	for _, tc := range tests {
		for _, f := range formats {
			t.Run(fmt.Sprintf("%s/%s", tc.name, f), func(t *testing.T) {
				t.Parallel()
				src := testdata(t, tc.file)
				d := checkOutput(t, render(t, r, src, Request{Width: tc.w, Height: tc.h, Fit: true, Format: f}), f, tc.w, tc.h)
				m, err := r.Meta(context.Background(), src)
				if err != nil {
					t.Fatalf("Meta: %v", err)
				}
				want := hexRGB(t, m.DominantColor)
				t.Logf("dominant colour %s", m.DominantColor)
				// The pad, away from the edge where the cover's pixels blur
				// into it (encoders smooth a few pixels).
				p := tc.padThickness - 4
				pads := [][4]int{{0, 0, p, tc.h}, {tc.w - p, 0, tc.w, tc.h}}
				if !tc.vertical {
					pads = [][4]int{{0, 0, tc.w, p}, {0, tc.h - p, tc.w, tc.h}}
				}
				for _, pad := range pads {
					if got := region(d.pixels, pad[0], pad[1], pad[2], pad[3]); colourDist(got, want) > 6 {
						t.Errorf("pad %v is %.0f; want the dominant colour %s", pad, got, m.DominantColor)
					}
				}
				// The cover, whole: the inner box looks like the plain
				// render of the cover at that width.
				ref := decodeOutput(t, render(t, r, src, Request{Width: tc.innerW, Format: cover.WebP}).Bytes)
				in := tc.inner
				inner := image.NewRGBA(image.Rect(0, 0, in[2]-in[0], in[3]-in[1]))
				for y := in[1]; y < in[3]; y++ {
					for x := in[0]; x < in[2]; x++ {
						inner.Set(x-in[0], y-in[1], d.pixels.At(x, y))
					}
				}
				if rb := ref.pixels.Bounds(); rb.Dx() != inner.Bounds().Dx() || rb.Dy() != inner.Bounds().Dy() {
					t.Fatalf("the cover alone renders %v; the fit's inner box is %v", rb, inner.Bounds())
				}
				if diff := gridDiff(lumaGrid(inner, 4, 6), lumaGrid(ref.pixels, 4, 6)); diff > 6 {
					t.Errorf("the inner box %v differs from the cover rendered alone by %.1f luma per cell; want the whole cover there", in, diff)
				}
			})
		}
	}
}

// TestRenderFitNeverEnlarges: a fit box larger than the cover on both sides
// is scaled down (cover.ClampFit) until the cover fits at its own size; the
// cover's pixels are never scaled up.
func TestRenderFitNeverEnlarges(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	res := render(t, r, testdata(t, "cover-50x75-tiny.jpg"), Request{Width: 200, Height: 100, Fit: true, Format: cover.WebP})
	checkOutput(t, res, cover.WebP, 150, 75)
	res = render(t, r, testdata(t, "cover-50x75-tiny.jpg"), Request{Width: 200, Height: 100, Fit: true, Enlarge: true, Format: cover.WebP})
	checkOutput(t, res, cover.WebP, 200, 100)
}

// TestLadderFit: a fit output of a ladder is the single render's.
func TestLadderFit(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	src := testdata(t, "photo-1600x2400-baseline.jpg")
	reqs := []Request{{Width: 320, Format: cover.WebP}, {Width: 600, Height: 315, Fit: true, Format: cover.JPEG}, {Width: 300, Height: 300, Fit: true, Format: cover.WebP}}
	out, err := r.RenderLadder(context.Background(), src, reqs)
	if err != nil {
		t.Fatalf("RenderLadder: %v", err)
	}
	for i, req := range reqs {
		lo := decodeOutput(t, out[i].Bytes)
		so := decodeOutput(t, render(t, r, src, req).Bytes)
		if lo.width != so.width || lo.height != so.height {
			t.Fatalf("ladder %+v = %dx%d, single render %dx%d", req, lo.width, lo.height, so.width, so.height)
		}
		if s := ssim(t, lo.pixels, so.pixels); s < 1-maxLadderSSIMLoss {
			t.Errorf("ladder %+v: SSIM against the single render %.4f, want at least %.4f", req, s, 1-maxLadderSSIMLoss)
		}
	}
}

// TestFitRequiresABox: fit is for boxes only.
func TestFitRequiresABox(t *testing.T) {
	t.Parallel()
	if err := (Request{Width: 320, Fit: true, Format: cover.WebP}).validate(); err == nil {
		t.Fatal("validate(fit without a height) = nil, want ErrInvalidRequest")
	}
}

// TestRenderFitGrey: a grey original is padded too (the output becomes
// sRGB, the pad its dominant grey).
func TestRenderFitGrey(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	g := image.NewGray(image.Rect(0, 0, 60, 90))
	for i := range g.Pix {
		g.Pix[i] = 200 // one grey: the dominant colour is exact
	}
	for y := 30; y < 60; y++ {
		for x := 20; x < 40; x++ {
			g.Pix[y*60+x] = 20
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, g); err != nil {
		t.Fatal(err)
	}
	for _, f := range formats {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			d := checkOutput(t, render(t, r, buf.Bytes(), Request{Width: 60, Height: 45, Fit: true, Format: f}), f, 60, 45)
			if pad := region(d.pixels, 0, 0, 12, 45); colourDist(pad, [3]float64{200, 200, 200}) > 6 {
				t.Errorf("pad of a grey cover = %.0f; want its grey, 200", pad)
			}
			if mid := region(d.pixels, 28, 18, 32, 27); luma(mid) > 80 {
				t.Errorf("the cover's dark middle = %.0f; want it kept", mid)
			}
		})
	}
}
