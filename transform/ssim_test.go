package transform

import (
	"image"
	"testing"
)

// ssim is the structural similarity of two images of the same size: the
// mean SSIM of 8x8 windows (stride 4) with the usual constants, computed
// per channel (R, G, B and alpha) on 8-bit values, and the lowest channel's
// returned.
func ssim(tb testing.TB, a, b image.Image) float64 {
	tb.Helper()
	ab, bb := a.Bounds(), b.Bounds()
	if ab.Dx() != bb.Dx() || ab.Dy() != bb.Dy() {
		tb.Fatalf("ssim of %v and %v: sizes differ", ab, bb)
	}
	w, h := ab.Dx(), ab.Dy()
	var planes [2][4][]float64
	for i, img := range []image.Image{a, b} {
		r := img.Bounds()
		for c := range planes[i] {
			planes[i][c] = make([]float64, w*h)
		}
		for y := range h {
			for x := range w {
				cr, cg, cb, ca := img.At(r.Min.X+x, r.Min.Y+y).RGBA()
				for c, v := range [4]uint32{cr, cg, cb, ca} {
					planes[i][c][y*w+x] = float64(v >> 8)
				}
			}
		}
	}
	lowest := 1.0
	for c := range 4 {
		lowest = min(lowest, ssimPlane(planes[0][c], planes[1][c], w, h))
	}
	return lowest
}

// ssimPlane is the mean SSIM of one channel over 8x8 windows, stride 4 (a
// whole image smaller than a window is one window).
func ssimPlane(x, y []float64, w, h int) float64 {
	const (
		c1 = (0.01 * 255) * (0.01 * 255)
		c2 = (0.03 * 255) * (0.03 * 255)
	)
	win, step := min(8, w, h), 4
	sum, n := 0.0, 0
	for y0 := 0; y0+win <= h; y0 += step {
		for x0 := 0; x0+win <= w; x0 += step {
			var mx, my, vx, vy, cov float64
			for j := y0; j < y0+win; j++ {
				for i := x0; i < x0+win; i++ {
					mx += x[j*w+i]
					my += y[j*w+i]
				}
			}
			k := float64(win * win)
			mx, my = mx/k, my/k
			for j := y0; j < y0+win; j++ {
				for i := x0; i < x0+win; i++ {
					dx, dy := x[j*w+i]-mx, y[j*w+i]-my
					vx += dx * dx
					vy += dy * dy
					cov += dx * dy
				}
			}
			vx, vy, cov = vx/(k-1), vy/(k-1), cov/(k-1)
			sum += (2*mx*my + c1) * (2*cov + c2) / ((mx*mx + my*my + c1) * (vx + vy + c2))
			n++
		}
	}
	if n == 0 {
		return 1
	}
	return sum / float64(n)
}

func TestSSIMSanity(t *testing.T) {
	t.Parallel()
	a := image.NewGray(image.Rect(0, 0, 32, 32))
	b := image.NewGray(image.Rect(0, 0, 32, 32))
	for i := range a.Pix {
		a.Pix[i] = uint8(i * 7)
		b.Pix[i] = uint8(i * 7)
	}
	if got := ssim(t, a, b); got < 0.999999 {
		t.Errorf("ssim(a, a) = %f, want 1", got)
	}
	for i := range b.Pix {
		b.Pix[i] = 255 - b.Pix[i]
	}
	if got := ssim(t, a, b); got > 0.5 {
		t.Errorf("ssim(a, inverted a) = %f, want well below 1", got)
	}
}
