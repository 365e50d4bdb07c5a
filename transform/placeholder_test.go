package transform

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/bookcovers/image-worker/cover"
)

func TestPlaceholder(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	tests := []struct {
		name         string
		req          Request
		wantW, wantH int
	}{
		{"width only gets a 2:3 cover", Request{Width: 320}, 320, 480},
		{"box", Request{Width: 200, Height: 200}, 200, 200},
		{"tiny", Request{Width: 1}, 1, 1},
		{"large", Request{Width: 1280}, 1280, 1920},
	}
	for _, f := range formats {
		for _, tc := range tests {
			t.Run(string(f)+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				req := tc.req
				req.Format = f
				res, err := r.Placeholder(context.Background(), 7, req)
				if err != nil {
					t.Fatalf("Placeholder(%+v): %v", req, err)
				}
				d := checkOutput(t, res, f, tc.wantW, tc.wantH)
				if d.bands != 3 {
					t.Fatalf("placeholder has %d bands; want 3", d.bands)
				}
			})
		}
	}
}

// One entry always gives the same colours; different entries differ; the
// band is darker than the background.
func TestPlaceholderDesign(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	draw := func(entry int) decoded {
		res, err := r.Placeholder(context.Background(), entry, Request{Width: 120, Format: cover.WebP})
		if err != nil {
			t.Fatalf("Placeholder(%d): %v", entry, err)
		}
		return checkOutput(t, res, cover.WebP, 120, 180)
	}
	a1, a2, b := draw(2), draw(2), draw(9)
	bgA1, bgA2, bgB := meanRGB(a1.pixels, 0.1, 0.3, 0.9, 0.5), meanRGB(a2.pixels, 0.1, 0.3, 0.9, 0.5), meanRGB(b.pixels, 0.1, 0.3, 0.9, 0.5)
	if dist(bgA1, bgA2) > 3 {
		t.Fatalf("same entry gave backgrounds %.0f and %.0f; want the same", bgA1, bgA2)
	}
	if dist(bgA1, bgB) < 10 {
		t.Fatalf("entries 2 and 9 gave backgrounds %.0f and %.0f; want visibly different", bgA1, bgB)
	}
	band := meanRGB(a1.pixels, 0.1, 0.62, 0.9, 0.74)
	if luma(band) > luma(bgA1)-30 {
		t.Fatalf("band luma %.0f, background luma %.0f; want the band clearly darker", luma(band), luma(bgA1))
	}
	if n := r.Renders(); n != 0 {
		t.Fatalf("Renders() = %d after placeholders only; want 0", n)
	}
}

func TestPlaceholderRefuses(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, func(c *Config) { c.MaxPixels = 1_000_000 })
	tests := []struct {
		name    string
		req     Request
		wantErr error
	}{
		{"bad format", Request{Width: 100, Format: "png"}, cover.ErrUnsupportedFormat},
		{"zero width", Request{Width: 0, Format: cover.WebP}, ErrInvalidRequest},
		{"over the pixel budget", Request{Width: 2000, Format: cover.WebP}, ErrTooManyPixels},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := r.Placeholder(context.Background(), 0, tc.req); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Placeholder(0, %+v) error = %v; want %v", tc.req, err, tc.wantErr)
			}
		})
	}
	for _, entry := range []int{-1, PaletteSize} {
		if _, err := r.Placeholder(context.Background(), entry, Request{Width: 100, Format: cover.WebP}); !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("Placeholder(%d, 100 webp) error = %v; want ErrInvalidRequest", entry, err)
		}
	}
	if n := r.Placeholders(); n != 0 {
		t.Fatalf("Placeholders() = %d after refused requests only; want 0", n)
	}
}

// The palette has PaletteSize distinct, muted backgrounds, each with a band
// darker and a stripe lighter than itself.
func TestPaletteColours(t *testing.T) {
	t.Parallel()
	seen := map[[3]uint8]int{}
	for entry := range PaletteSize {
		bg, band, stripe := paletteColours(entry)
		if prev, ok := seen[bg]; ok {
			t.Fatalf("entries %d and %d have the same background %v", prev, entry, bg)
		}
		seen[bg] = entry
		l := func(r, g, b uint8) float64 { return luma([3]float64{float64(r), float64(g), float64(b)}) }
		bgL := l(bg[0], bg[1], bg[2])
		if bandL, stripeL := l(band.R, band.G, band.B), l(stripe.R, stripe.G, stripe.B); bandL >= bgL || stripeL <= bgL {
			t.Fatalf("entry %d: band luma %.0f, background %.0f, stripe %.0f; want band < background < stripe", entry, bandL, bgL, stripeL)
		}
		if bgL < 60 || bgL > 200 {
			t.Fatalf("entry %d: background luma %.0f; want a muted mid tone (60..200)", entry, bgL)
		}
	}
}

func dist(a, b [3]float64) float64 {
	return math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
}
