package transform

import (
	"fmt"
	"math"
)

// Request says what to render.
type Request struct {
	// Width is the output width in pixels (> 0).
	Width int
	// Height 0 keeps the aspect ratio; > 0 fills the Width x Height box,
	// cropping with libvips' attention strategy.
	Height int
	// Format is the output encoding.
	Format Format
	// Enlarge allows output larger than the original. Without it a
	// width-only request wider than the original is rendered at the
	// original's width, and a box larger than the original (on either side)
	// is scaled down uniformly until it fits, so the requested aspect ratio
	// is kept.
	Enlarge bool
	// Source, when set, names the original (cmd passes book id and
	// version): a Render waiting for a slot is then taken into the
	// operation of another waiting Render of the same Source, and both are
	// made from one decode (batch.go). Callers must give equal Sources only
	// to equal originals. It does not change the output.
	Source string `json:"-"`
}

// validate checks the request fields that do not depend on the original.
func (req Request) validate() error {
	switch {
	case !req.Format.valid():
		return fmt.Errorf("format %q: %w", req.Format, ErrUnsupportedFormat)
	case req.Width <= 0 || req.Height < 0:
		return fmt.Errorf("size %dx%d: %w", req.Width, req.Height, ErrInvalidRequest)
	case req.Width > MaxSide || req.Height > MaxSide:
		return fmt.Errorf("size %dx%d, side limit %d: %w", req.Width, req.Height, MaxSide, ErrTooManyPixels)
	}
	return nil
}

// geometry is the planned output of one render.
type geometry struct {
	width, height int  // expected output size
	crop          bool // fill the box (smart crop) rather than keep the aspect
}

// MaxOutputSide is the longest side an output may have: WebP's limit, one
// below AVIF/HEIF's 16384.
const MaxOutputSide = 16383

// plan computes the output size of req for an upright original of
// srcW x srcH pixels, applying the no-enlarge policy.
func plan(srcW, srcH int, req Request) geometry {
	srcW, srcH = max(srcW, 1), max(srcH, 1)
	if req.Height == 0 {
		w := req.Width
		if !req.Enlarge && w > srcW {
			w = srcW
		}
		h := max(int(math.Round(float64(srcH)*float64(w)/float64(srcW))), 1)
		if h > MaxOutputSide {
			// An extreme aspect (1x20000): keep the aspect, shrink to what
			// the encoders accept (WebP 16383, AVIF/HEIF 16384 per side).
			w = max(int(math.Round(float64(w)*float64(MaxOutputSide)/float64(h))), 1)
			h = MaxOutputSide
		}
		return geometry{width: w, height: h}
	}
	w, h := req.Width, req.Height
	if !req.Enlarge && (w > srcW || h > srcH) {
		f := math.Min(float64(srcW)/float64(w), float64(srcH)/float64(h))
		w = min(max(int(math.Round(float64(w)*f)), 1), srcW)
		h = min(max(int(math.Round(float64(h)*f)), 1), srcH)
	}
	return geometry{width: w, height: h, crop: true}
}

// ClampSize returns the size whose render gives exactly the pixels that a
// render of width x height (height 0: keep the aspect) gives from an upright
// srcW x srcH original without Enlarge, and that every other size with the
// same output shares, so that a cache key built from it names one variant:
//
//   - width only: a width above srcW becomes srcW (renders never enlarge;
//     any width from srcW up gives the original's width);
//   - box: a box larger than the original on either side becomes the box the
//     render scales it down to (uniformly, keeping the requested aspect, until
//     it fits in the original), so 1000x1500 and 1200x1800 on a 600x900
//     original are both 600x900. A box that fits is unchanged.
//
// The render of the clamped size plans the same geometry as the request's
// (TestClampSizeRendersTheSame), so its bytes are the request's. An unknown
// original size (srcW or srcH <= 0, a manifest from before sizes were
// recorded) or an invalid request returns the request unchanged.
func ClampSize(srcW, srcH, width, height int) (int, int) {
	if srcW <= 0 || srcH <= 0 || width <= 0 || height < 0 {
		return width, height
	}
	if height == 0 {
		return min(width, srcW), 0
	}
	g := plan(srcW, srcH, Request{Width: width, Height: height})
	return g.width, g.height
}

// fitAspect returns the largest box with the aspect of w x h that fits in
// availW x availH; it repairs a box render whose source turned out smaller
// than planned (an orientation Probe could not see).
func fitAspect(w, h, availW, availH int) (int, int) {
	f := math.Min(float64(availW)/float64(w), float64(availH)/float64(h))
	if f >= 1 {
		return w, h
	}
	return min(max(int(math.Round(float64(w)*f)), 1), availW),
		min(max(int(math.Round(float64(h)*f)), 1), availH)
}
