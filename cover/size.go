package cover

import "math"

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
