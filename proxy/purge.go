package proxy

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/bookcovers/image-worker/cover"
	"github.com/julienschmidt/httprouter"
)

// purgeResponse lists what a CDN should purge after a book was removed.
type purgeResponse struct {
	BookID         string   `json:"book_id"`
	DeletedObjects int      `json:"deleted_objects"`
	SurrogateKey   string   `json:"surrogate_key"`
	PurgePaths     []string `json:"purge_paths"`
}

// purge serves DELETE /covers/{book_id}: remove the book's manifest, original
// and variants. Routes mount it behind admin (ADMIN_TOKEN on both listeners).
func (h *handlers) purge(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	bookID := ps.ByName("book_id")
	if err := cover.ValidBookID(bookID); err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	res, err := h.d.Purge(r.Context(), bookID)
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	h.log.Info("book purged", "request_id", requestID(r.Context()), "book_id", bookID, "deleted", res.Deleted)
	writeJSON(w, http.StatusOK, purgeResponse{
		BookID: bookID, DeletedObjects: res.Deleted, SurrogateKey: "book-" + bookID,
		PurgePaths: h.purgePaths(bookID, res.Variants),
	})
	return nil
}

// purgePaths names every public path the stored variants were served under:
// the numeric size, its preset aliases, and the book-wide wildcard.
func (h *handlers) purgePaths(bookID string, variants []cover.VariantKey) []string {
	base := "/covers/" + bookID + "/"
	paths := []string{base + "*"}
	for _, v := range variants {
		paths = append(paths, base+v.Size()+"."+v.Format)
		for name, sz := range h.cfg.Sizes {
			if sz == (cover.Size{Width: v.Width, Height: v.Height, Fit: v.Fit}) {
				paths = append(paths, base+name+"."+v.Format)
			}
		}
	}
	slices.Sort(paths)
	return slices.Compact(paths)
}
