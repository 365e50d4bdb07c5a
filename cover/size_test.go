package cover

import (
	"errors"
	"testing"
)

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Size{
		"320":      {Width: 320},
		"320x480":  {Width: 320, Height: 480},
		"200x300f": {Width: 200, Height: 300, Fit: true},
		"99999x1":  {Width: 99999, Height: 1},
	} {
		got, err := ParseSize(in)
		if err != nil || got != want || got.String() != in {
			t.Errorf("ParseSize(%q) = %+v, %v (String %q); want %+v spelled the same", in, got, err, got.String(), want)
		}
	}
	for _, in := range []string{"", "0", "0320", "320f", "320xf", "x480", "320x", "320x480F", "320x480ff", "320X480", "+320", "320x0480f", "100000", "320x480 ", "3e2"} {
		if got, err := ParseSize(in); !errors.Is(err, ErrBadSize) {
			t.Errorf("ParseSize(%q) = %+v, %v; want ErrBadSize", in, got, err)
		}
	}
}

// TestClampSize: ClampSize, and ClampFit for a fit box, through Clamp.
func TestClampSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		srcW, srcH, w, h int
		wantW, wantH     int
		fit              bool
	}{
		{"width below the original", 600, 900, 320, 0, 320, 0, false},
		{"width of the original", 600, 900, 600, 0, 600, 0, false},
		{"width above the original", 600, 900, 700, 0, 600, 0, false},
		{"largest width", 600, 900, 2048, 0, 600, 0, false},
		{"box inside", 600, 900, 320, 480, 320, 480, false},
		{"box of the original's aspect, larger", 600, 900, 1200, 1800, 600, 900, false},
		{"square box, larger", 600, 900, 2048, 2048, 600, 600, false},
		{"wide box, only wider", 600, 900, 1200, 300, 600, 150, false},
		{"tall box, only taller", 600, 900, 100, 1800, 50, 900, false},
		{"box into a landscape original", 240, 160, 300, 300, 160, 160, false},
		{"tall box into a small original", 50, 50, 200, 400, 25, 50, false},
		{"box side never zero", 5, 5, 1000, 1, 5, 1, false},
		{"unknown original", 0, 0, 2048, 0, 2048, 0, false},
		{"unknown original height", 600, 0, 2048, 2048, 2048, 2048, false},
		{"fit: box inside", 600, 900, 320, 480, 320, 480, true},
		{"fit: wide box inside", 600, 900, 400, 300, 400, 300, true},
		{"fit: box wider only, the cover shrinks to its height", 600, 900, 1200, 300, 1200, 300, true},
		{"fit: box taller only, the cover shrinks to its width", 600, 900, 300, 1800, 300, 1800, true},
		{"fit: square box, larger on both sides", 600, 900, 1000, 1000, 900, 900, true},
		{"fit: box of the original's aspect, larger", 600, 900, 1200, 1800, 600, 900, true},
		{"fit: wide box, larger on both sides", 600, 900, 2000, 1000, 1800, 900, true},
		{"fit: landscape original", 240, 160, 300, 300, 240, 240, true},
		{"fit: unknown original", 0, 0, 2048, 2048, 2048, 2048, true},
		{"fit: not a box is a width", 600, 900, 2048, 0, 600, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w, h := Clamp(tc.srcW, tc.srcH, tc.w, tc.h, tc.fit)
			if w != tc.wantW || h != tc.wantH {
				t.Errorf("Clamp(%dx%d, %d, %d, fit %v) = %d, %d; want %d, %d", tc.srcW, tc.srcH, tc.w, tc.h, tc.fit, w, h, tc.wantW, tc.wantH)
			}
			if fw, fh := ClampFit(tc.srcW, tc.srcH, tc.w, tc.h); tc.fit && tc.h > 0 && (fw != w || fh != h) {
				t.Errorf("ClampFit = %d, %d; Clamp with fit %d, %d", fw, fh, w, h)
			}
			if tc.fit && tc.h > 0 && tc.srcW > 0 && tc.srcH > 0 && (w > tc.w || h > tc.h) {
				t.Errorf("a fit box grew to %dx%d", w, h)
			}
		})
	}
}
