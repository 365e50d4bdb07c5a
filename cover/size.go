package cover

import (
	"fmt"
	"math"
	"strings"
)

// Size is a requested size: a width (Height 0, the aspect kept), a box to
// fill (smart crop) or, with Fit, a box to fit the whole cover into,
// padded. Its String is the canonical spelling of URLs and variant keys.
type Size struct {
	Width, Height int
	Fit           bool // a box only
}

// String spells s as URLs and keys do: "W", "WxH" or "WxHf".
func (s Size) String() string { return SizeString(s.Width, s.Height, s.Fit) }

// ErrBadSize reports a size that is not canonically spelled.
var ErrBadSize = NewError(CodeBadSize, "cover: invalid size")

// maxSizeDigits bounds each number of a size: no request needs more.
const maxSizeDigits = 5

// ParseSize parses the canonical spelling of a size: "W", "WxH" or
// "WxHf", each number decimal with no sign and no leading zero, at most
// five digits; the only spelling of a size, so that one variant has one
// URL and one key. Ranges are the caller's to check.
func ParseSize(s string) (Size, error) {
	ws, hs, box := strings.Cut(s, "x")
	var sz Size
	if box {
		hs, sz.Fit = strings.CutSuffix(hs, FitSuffix)
	}
	var ok bool
	if sz.Width, ok = parseSizeNumber(ws); !ok {
		return Size{}, fmt.Errorf("parse size %q: width: %w", s, ErrBadSize)
	}
	if box {
		if sz.Height, ok = parseSizeNumber(hs); !ok {
			return Size{}, fmt.Errorf("parse size %q: height: %w", s, ErrBadSize)
		}
	}
	return sz, nil
}

// parseSizeNumber reads 1-5 decimal digits without a leading zero.
func parseSizeNumber(s string) (int, bool) {
	if s == "" || len(s) > maxSizeDigits || s[0] == '0' {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// ClampSize returns the size whose render gives exactly the pixels that a
// render of width x height (height 0: keep the aspect) gives from an upright
// srcW x srcH original, and that every other size with the same output
// shares, so that a variant key built from it names one variant. Renders
// never enlarge:
//
//   - width only: a width above srcW becomes srcW (any width from srcW up
//     gives the original's width);
//   - box: a box larger than the original on either side becomes the box the
//     render scales it down to (uniformly, keeping the requested aspect, until
//     it fits in the original), so 1000x1500 and 1200x1800 on a 600x900
//     original are both 600x900. A box that fits is unchanged.
//
// transform plans every render without Enlarge with this function, so the
// render of the clamped size is the request's. An unknown original size
// (srcW or srcH <= 0, a manifest from before sizes were recorded) or an
// invalid request returns the request unchanged.
func ClampSize(srcW, srcH, width, height int) (int, int) {
	switch {
	case srcW <= 0 || srcH <= 0 || width <= 0 || height < 0:
		return width, height
	case height == 0:
		return min(width, srcW), 0
	case width <= srcW && height <= srcH:
		return width, height
	}
	f := math.Min(float64(srcW)/float64(width), float64(srcH)/float64(height))
	return min(max(int(math.Round(float64(width)*f)), 1), srcW),
		min(max(int(math.Round(float64(height)*f)), 1), srcH)
}

// ClampFit is ClampSize for a fit box (the whole cover inside width x
// height, padded): the box whose render gives exactly the pixels a render
// of the requested box gives from an upright srcW x srcH original. Renders
// never enlarge, so a box larger than the original on both sides (the
// cover would be scaled up to touch it) becomes the box the render scales
// it down to, uniformly and keeping the requested aspect, until the cover
// fits at its own size: 1000x1000 on a 600x900 original is 900x900, the
// cover at 600x900 between two pad columns. A box the cover must shrink
// into (smaller on either side) is unchanged. An unknown original size or
// an invalid request (height <= 0) returns the request unchanged.
func ClampFit(srcW, srcH, width, height int) (int, int) {
	if srcW <= 0 || srcH <= 0 || width <= 0 || height <= 0 || width <= srcW || height <= srcH {
		return width, height
	}
	f := math.Max(float64(srcW)/float64(width), float64(srcH)/float64(height))
	return max(int(math.Round(float64(width)*f)), 1), max(int(math.Round(float64(height)*f)), 1)
}

// Clamp is ClampSize, or ClampFit for a fit box.
func Clamp(srcW, srcH, width, height int, fit bool) (int, int) {
	if fit && height > 0 {
		return ClampFit(srcW, srcH, width, height)
	}
	return ClampSize(srcW, srcH, width, height)
}
