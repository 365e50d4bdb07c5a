package transform

import (
	"fmt"
	"math"

	"github.com/bookcovers/image-worker/cover"
)

// Request says what to render.
type Request struct {
	// Width is the output width in pixels (> 0).
	Width int
	// Height 0 keeps the aspect ratio; > 0 fills the Width x Height box,
	// cropping with libvips' attention strategy (or, with Fit, fits it).
	Height int
	// Fit (a box only) keeps the whole original: it is scaled to fit
	// inside the box and centred, and the rest of the box is padded with
	// the original's dominant colour (Meta.DominantColor), so the output
	// is exactly the box. Without Enlarge the box follows cover.ClampFit.
	Fit bool `json:"fit,omitempty"`
	// Format is the output encoding.
	Format cover.Format
	// Enlarge allows output larger than the original. Without it a
	// width-only request wider than the original is rendered at the
	// original's width, and a box larger than the original (on either side)
	// is scaled down uniformly until it fits, so the requested aspect ratio
	// is kept.
	Enlarge bool
	// Trim, when set, is the box of the upright original the output is
	// made from, as if it were the whole original (TrimBox, recorded in the
	// manifest): sizes, the no-enlarge rule and the crop apply to the box.
	Trim cover.Rect `json:"trim,omitzero"`
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
	case !req.Format.Valid():
		return fmt.Errorf("format %q: %w", req.Format, cover.ErrUnsupportedFormat)
	case req.Width <= 0 || req.Height < 0:
		return fmt.Errorf("size %dx%d: %w", req.Width, req.Height, ErrInvalidRequest)
	case req.Fit && req.Height == 0:
		return fmt.Errorf("fit without a box (width %d): %w", req.Width, ErrInvalidRequest)
	case req.Width > MaxSide || req.Height > MaxSide:
		return fmt.Errorf("size %dx%d, side limit %d: %w", req.Width, req.Height, MaxSide, ErrTooManyPixels)
	}
	return nil
}

// validateFor checks the request fields that depend on the original's
// upright size: a trim box must lie inside it.
func (req Request) validateFor(dispW, dispH int) error {
	if !req.Trim.IsZero() && !req.Trim.Within(dispW, dispH) {
		return fmt.Errorf("trim %s outside the %dx%d original: %w", req.Trim, dispW, dispH, ErrInvalidRequest)
	}
	return nil
}

// geometry is the planned output of one render.
type geometry struct {
	width, height int  // expected output size
	crop          bool // fill the box (smart crop) rather than keep the aspect
	fit           bool // fit inside the box and pad it (padFit)
	srcW, srcH    int  // the upright original the plan was made for (a trim box maps onto it)
}

// MaxOutputSide is the longest side an output may have: WebP's limit, one
// below AVIF/HEIF's 16384.
const MaxOutputSide = 16383

// plan computes the output size of req for an upright original of
// dispW x dispH pixels, or for its trim box when req has one, applying the
// no-enlarge policy (cover.ClampSize).
func plan(dispW, dispH int, req Request) geometry {
	w, h := dispW, dispH
	if !req.Trim.IsZero() {
		w, h = req.Trim.Width, req.Trim.Height
	}
	g := planSize(w, h, req)
	g.srcW, g.srcH = dispW, dispH
	return g
}

// planSize plans req for a srcW x srcH source.
func planSize(srcW, srcH int, req Request) geometry {
	srcW, srcH = max(srcW, 1), max(srcH, 1)
	w, h := req.Width, req.Height
	if !req.Enlarge {
		w, h = cover.Clamp(srcW, srcH, w, h, req.Fit)
	}
	if req.Fit {
		return geometry{width: w, height: h, fit: true}
	}
	if h == 0 {
		h = max(int(math.Round(float64(srcH)*float64(w)/float64(srcW))), 1)
		if h > MaxOutputSide {
			// An extreme aspect (1x20000): keep the aspect, shrink to what
			// the encoders accept (WebP 16383, AVIF/HEIF 16384 per side).
			w = max(int(math.Round(float64(w)*float64(MaxOutputSide)/float64(h))), 1)
			h = MaxOutputSide
		}
		return geometry{width: w, height: h}
	}
	return geometry{width: w, height: h, crop: true}
}
