package proxy

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/bookcovers/image-worker/cache"
)

// PlaceholderSource returns the placeholder of a book without a cover: a
// shared, cached image (cache.Placeholders) that depends only on the
// book's palette entry, the size and the format, so a request for a book
// without a cover costs a render at most once per entry, size and format.
type PlaceholderSource interface {
	Placeholder(ctx context.Context, bookID string, width, height int, format string) (cache.Variant, error)
}

var placeholderValue = []string{"true"}

// placeholder serves a generated cover for a book that has none, or 404
// no_cover when placeholders are off (Deps.Placeholders, New). The image is
// made by the placeholder cache's fill (cmd wires the renderer into
// cache.Placeholders): the HTTP layer never renders. It is shared between
// books, but the response is the book's: the book's Surrogate-Key (a CDN
// purge when the real cover arrives drops it), the short placeholder
// max-age, X-Cover-Placeholder and a strong ETag of the bytes.
func (h *handlers) placeholder(w http.ResponseWriter, r *http.Request, req coverRequest) error {
	v, err := h.d.Placeholders.Placeholder(r.Context(), req.BookID, req.Width, req.Height, string(req.Format))
	if err != nil {
		return fmt.Errorf("placeholder: %w", err)
	}
	hd := w.Header()
	hd["Cache-Control"] = h.headerConsts().placeholder
	hd["X-Cover-Placeholder"] = placeholderValue
	setBookKeys(hd, req.BookID)
	h.writeVariant(w, r, v, req.Format.ContentType(), time.Time{})
	return nil
}
