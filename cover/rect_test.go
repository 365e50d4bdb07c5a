package cover

import "testing"

func TestRectWithin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		r    Rect
		want bool
	}{
		{Rect{0, 0, 100, 150}, true},
		{Rect{10, 20, 90, 130}, true},
		{Rect{11, 20, 90, 130}, false}, // one past the right edge
		{Rect{10, 21, 90, 130}, false}, // one past the bottom
		{Rect{-1, 0, 10, 10}, false},
		{Rect{0, 0, 0, 10}, false},
		{Rect{}, false},
	} {
		if got := tc.r.Within(100, 150); got != tc.want {
			t.Errorf("%s.Within(100, 150) = %v; want %v", tc.r, got, tc.want)
		}
	}
	if s := (Rect{Left: 3, Top: 4, Width: 10, Height: 20}).String(); s != "10x20+3+4" {
		t.Errorf("String = %q", s)
	}
}
