package cover

import "testing"

func TestClampSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		srcW, srcH, w, h int
		wantW, wantH     int
	}{
		{"width below the original", 600, 900, 320, 0, 320, 0},
		{"width of the original", 600, 900, 600, 0, 600, 0},
		{"width above the original", 600, 900, 700, 0, 600, 0},
		{"largest width", 600, 900, 2048, 0, 600, 0},
		{"box inside", 600, 900, 320, 480, 320, 480},
		{"box of the original's aspect, larger", 600, 900, 1200, 1800, 600, 900},
		{"square box, larger", 600, 900, 2048, 2048, 600, 600},
		{"wide box, only wider", 600, 900, 1200, 300, 600, 150},
		{"tall box, only taller", 600, 900, 100, 1800, 50, 900},
		{"box into a landscape original", 240, 160, 300, 300, 160, 160},
		{"tall box into a small original", 50, 50, 200, 400, 25, 50},
		{"box side never zero", 5, 5, 1000, 1, 5, 1},
		{"unknown original", 0, 0, 2048, 0, 2048, 0},
		{"unknown original height", 600, 0, 2048, 2048, 2048, 2048},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if w, h := ClampSize(tc.srcW, tc.srcH, tc.w, tc.h); w != tc.wantW || h != tc.wantH {
				t.Errorf("ClampSize(%dx%d, %d, %d) = %d, %d; want %d, %d", tc.srcW, tc.srcH, tc.w, tc.h, w, h, tc.wantW, tc.wantH)
			}
		})
	}
}
