package transform

import "testing"

func TestPlan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		srcW, srcH int
		req        Request
		want       geometry
	}{
		{"width only", 1600, 2400, Request{Width: 320}, geometry{320, 480, false}},
		{"width only rounds the height", 1600, 2401, Request{Width: 320}, geometry{320, 480, false}},
		{"width only, panorama keeps 1 px", 4272, 356, Request{Width: 10}, geometry{10, 1, false}},
		{"wider than source, no enlarge", 50, 75, Request{Width: 320}, geometry{50, 75, false}},
		{"wider than source, enlarge", 50, 75, Request{Width: 320, Enlarge: true}, geometry{320, 480, false}},
		{"box inside source", 1600, 2400, Request{Width: 200, Height: 200}, geometry{200, 200, true}},
		{"box taller than source", 1600, 2400, Request{Width: 200, Height: 3000}, geometry{160, 2400, true}},
		{"square box larger than source", 50, 75, Request{Width: 200, Height: 200}, geometry{50, 50, true}},
		{"tall box larger than source", 50, 75, Request{Width: 100, Height: 300}, geometry{25, 75, true}},
		{"box larger than source, enlarge", 50, 75, Request{Width: 200, Height: 200, Enlarge: true}, geometry{200, 200, true}},
		{"extreme box on a tiny source keeps 1 px", 2, 2, Request{Width: 1000, Height: 1}, geometry{2, 1, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := plan(tc.srcW, tc.srcH, tc.req); got != tc.want {
				t.Fatalf("plan(%dx%d, %+v) = %+v; want %+v", tc.srcW, tc.srcH, tc.req, got, tc.want)
			}
		})
	}
}

func TestFitAspect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		w, h, availW, availH int
		wantW, wantH         int
	}{
		{"fits already", 100, 100, 200, 300, 100, 100},
		{"square into landscape", 300, 300, 240, 160, 160, 160},
		{"tall into small", 200, 400, 50, 50, 25, 50},
		{"never zero", 1000, 1, 5, 5, 5, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if w, h := fitAspect(tc.w, tc.h, tc.availW, tc.availH); w != tc.wantW || h != tc.wantH {
				t.Fatalf("fitAspect(%dx%d in %dx%d) = %dx%d; want %dx%d", tc.w, tc.h, tc.availW, tc.availH, w, h, tc.wantW, tc.wantH)
			}
		})
	}
}
