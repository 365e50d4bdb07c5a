package transform

import (
	"testing"

	"github.com/bookcovers/image-worker/cover"
)

func TestPlan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		srcW, srcH int
		req        Request
		want       geometry
	}{
		{"width only", 1600, 2400, Request{Width: 320}, geometry{width: 320, height: 480, crop: false, fit: false}},
		{"width only rounds the height", 1600, 2401, Request{Width: 320}, geometry{width: 320, height: 480, crop: false, fit: false}},
		{"width only, panorama keeps 1 px", 4272, 356, Request{Width: 10}, geometry{width: 10, height: 1, crop: false, fit: false}},
		{"wider than source, no enlarge", 50, 75, Request{Width: 320}, geometry{width: 50, height: 75, crop: false, fit: false}},
		{"wider than source, enlarge", 50, 75, Request{Width: 320, Enlarge: true}, geometry{width: 320, height: 480, crop: false, fit: false}},
		{"box inside source", 1600, 2400, Request{Width: 200, Height: 200}, geometry{width: 200, height: 200, crop: true, fit: false}},
		{"box taller than source", 1600, 2400, Request{Width: 200, Height: 3000}, geometry{width: 160, height: 2400, crop: true, fit: false}},
		{"square box larger than source", 50, 75, Request{Width: 200, Height: 200}, geometry{width: 50, height: 50, crop: true, fit: false}},
		{"tall box larger than source", 50, 75, Request{Width: 100, Height: 300}, geometry{width: 25, height: 75, crop: true, fit: false}},
		{"box larger than source, enlarge", 50, 75, Request{Width: 200, Height: 200, Enlarge: true}, geometry{width: 200, height: 200, crop: true, fit: false}},
		{"extreme box on a tiny source keeps 1 px", 2, 2, Request{Width: 1000, Height: 1}, geometry{width: 2, height: 1, crop: true, fit: false}},
		{"fit box inside source", 1600, 2400, Request{Width: 600, Height: 300, Fit: true}, geometry{width: 600, height: 300, crop: false, fit: true}},
		{"fit box larger on one side", 50, 75, Request{Width: 200, Height: 60, Fit: true}, geometry{width: 200, height: 60, crop: false, fit: true}},
		{"fit box larger on both sides", 50, 75, Request{Width: 200, Height: 100, Fit: true}, geometry{width: 150, height: 75, crop: false, fit: true}},
		{"fit box larger, enlarge", 50, 75, Request{Width: 200, Height: 100, Fit: true, Enlarge: true}, geometry{width: 200, height: 100, crop: false, fit: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.want.srcW, tc.want.srcH = tc.srcW, tc.srcH // the plan remembers the original it was made for
			if got := plan(tc.srcW, tc.srcH, tc.req); got != tc.want {
				t.Fatalf("plan(%dx%d, %+v) = %+v; want %+v", tc.srcW, tc.srcH, tc.req, got, tc.want)
			}
		})
	}
}

// TestClampSizeRendersTheSame: for every original and request, the clamped
// size plans the very geometry the request plans (so the render's pixels are
// the same), clamping again changes nothing, and a clamped size never exceeds
// the original.
func TestClampSizeRendersTheSame(t *testing.T) {
	t.Parallel()
	sources := [][2]int{{600, 900}, {1600, 2400}, {50, 75}, {4272, 356}, {356, 4272}, {1, 20000}, {16, 16}, {601, 899}}
	sizes := []int{0, 1, 15, 16, 17, 49, 50, 51, 75, 96, 320, 355, 356, 357, 599, 600, 601, 899, 900, 901, 1280, 1599, 1600, 1601, 2047, 2048, 4272}
	for _, src := range sources {
		for _, w := range sizes[1:] {
			for _, h := range sizes {
				if h > 0 { // the fit box: its own clamp, the same properties
					cw, ch := cover.ClampFit(src[0], src[1], w, h)
					fit, clamped := Request{Width: w, Height: h, Fit: true, Format: cover.WebP}, Request{Width: cw, Height: ch, Fit: true, Format: cover.WebP}
					if got, want := plan(src[0], src[1], clamped), plan(src[0], src[1], fit); got != want {
						t.Fatalf("%dx%d original: fit %dx%d clamps to %dx%d, which plans %+v; the request plans %+v", src[0], src[1], w, h, cw, ch, got, want)
					}
					if again, againH := cover.ClampFit(src[0], src[1], cw, ch); again != cw || againH != ch {
						t.Fatalf("%dx%d original: ClampFit(%dx%d) = %dx%d, then %dx%d; want a fixed point", src[0], src[1], w, h, cw, ch, again, againH)
					}
					if cw > w || ch > h || (cw > src[0] && ch > src[1]) {
						t.Fatalf("%dx%d original: fit %dx%d clamps to %dx%d: grown, or larger than the cover on both sides", src[0], src[1], w, h, cw, ch)
					}
				}
				cw, ch := cover.ClampSize(src[0], src[1], w, h)
				req, clamped := Request{Width: w, Height: h, Format: cover.WebP}, Request{Width: cw, Height: ch, Format: cover.WebP}
				if got, want := plan(src[0], src[1], clamped), plan(src[0], src[1], req); got != want {
					t.Fatalf("%dx%d original: %dx%d clamps to %dx%d, which plans %+v; the request plans %+v", src[0], src[1], w, h, cw, ch, got, want)
				}
				if again, againH := cover.ClampSize(src[0], src[1], cw, ch); again != cw || againH != ch {
					t.Fatalf("%dx%d original: ClampSize(%dx%d) = %dx%d, then %dx%d; want a fixed point", src[0], src[1], w, h, cw, ch, again, againH)
				}
				if cw > src[0] || ch > src[1] || (h == 0) != (ch == 0) {
					t.Fatalf("%dx%d original: %dx%d clamps to %dx%d, over the original or of another kind", src[0], src[1], w, h, cw, ch)
				}
			}
		}
	}
}
