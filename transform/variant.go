package transform

import (
	"context"
	"fmt"

	"github.com/bookcovers/image-worker/cover"
)

// RenderVariant renders the variant key names from original, the original
// key names (its content, or its book's original at key's version): key's
// size, fit and format, cropped to key's trim box first (Request.Trim),
// with the original named by content or by book and version
// (Request.Source), so that renders of several sizes of one cover waiting
// for a slot together are one ladder operation, whichever books asked. It
// is what the variant cache's fill renders on a miss.
func (r *Renderer) RenderVariant(ctx context.Context, original []byte, key cover.VariantKey) ([]byte, error) {
	format, err := cover.ParseFormat(key.Format)
	if err != nil {
		return nil, err
	}
	res, err := r.Render(ctx, original, Request{Width: key.Width, Height: key.Height, Fit: key.Fit, Format: format, Trim: key.Trim, Source: key.Original()})
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", key, err)
	}
	return res.Bytes, nil
}
