package transform

import "github.com/bookcovers/image-worker/cover"

// Sentinel errors. Callers test them with errors.Is; every error returned by
// this package wraps one of them, cover.ErrUnsupportedFormat (a request for
// a format that is not one of cover.Formats) or a context error behind a
// lowercase operation prefix such as "transform probe: ". Each names its
// cover.Code, so a caller that does not import transform (proxy, through the
// cache fill) still knows what a render failure means.
var (
	// ErrNotAnImage means the bytes are not a recognised raster image, or the
	// header is truncated or corrupt.
	ErrNotAnImage = cover.NewError(cover.CodeNotAnImage, "not an image")

	// ErrUnsupportedType means the input was recognised but is refused on
	// purpose (SVG: scriptable, external references, unbounded rasterisation).
	ErrUnsupportedType = cover.NewError(cover.CodeUnsupportedType, "unsupported image type")

	// ErrTooManyPixels means the header declares more pixels than allowed
	// (a decompression bomb), a side longer than MaxSide, or the requested
	// output itself would exceed the pixel budget.
	ErrTooManyPixels = cover.NewError(cover.CodeTooManyPixels, "too many pixels")

	// ErrOverloaded means the render gate's queue is full; retry later.
	ErrOverloaded = cover.NewError(cover.CodeOverloaded, "render queue full")

	// ErrRenderFailed means libvips failed on an original that probed fine
	// (truncated or corrupt body, unsupported codec feature). The libvips
	// message is wrapped alongside.
	ErrRenderFailed = cover.NewError(cover.CodeCorruptImage, "render failed")

	// ErrInvalidRequest means the Request itself is unusable (width <= 0,
	// negative height).
	ErrInvalidRequest = cover.NewError(cover.CodeBadSize, "invalid render request")
)
