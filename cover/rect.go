package cover

import "fmt"

// Rect is a box inside a cover's original, in pixels of the upright
// (EXIF-oriented) original: its left and top edges, its width and height.
// The zero Rect means the whole original. A manifest records the box its
// renders crop to first (Manifest.Trim), so every variant of a version is
// made from the same pixels on every replica.
type Rect struct {
	Left   int `json:"left"`
	Top    int `json:"top"`
	Width  int `json:"width"`
	Height int `json:"height"`
}

// IsZero reports whether r is the zero Rect: no box, the whole original.
func (r Rect) IsZero() bool { return r == Rect{} }

// Within reports whether r is a non-empty box inside a w x h image.
func (r Rect) Within(w, h int) bool {
	return r.Left >= 0 && r.Top >= 0 && r.Width > 0 && r.Height > 0 &&
		r.Left+r.Width <= w && r.Top+r.Height <= h
}

// String spells r as WxH+L+T, the geometry spelling of ImageMagick and X11.
func (r Rect) String() string {
	return fmt.Sprintf("%dx%d+%d+%d", r.Width, r.Height, r.Left, r.Top)
}
