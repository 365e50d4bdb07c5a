package proxy

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/bookcovers/image-worker/cache"
)

var errUnauthorized = errors.New("proxy: admin token required")

// purgeResponse lists what a CDN should purge after a book was removed.
type purgeResponse struct {
	BookID         string   `json:"book_id"`
	DeletedObjects int      `json:"deleted_objects"`
	SurrogateKey   string   `json:"surrogate_key"`
	PurgePaths     []string `json:"purge_paths"`
}

// purge serves DELETE /covers/{book_id}: remove the book's manifest, original
// and variants. On the public listener it needs ADMIN_TOKEN as a bearer token.
func (h *handlers) purge(requireToken bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
		if requireToken && !h.adminAuthorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="image-worker admin"`)
			return errUnauthorized
		}
		bookID := ps.ByName("book_id")
		if err := cache.ValidBookID(bookID); err != nil {
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
}

// adminAuthorized compares the bearer token in constant time; with no
// ADMIN_TOKEN configured nothing is authorized on the public listener.
func (h *handlers) adminAuthorized(r *http.Request) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && h.cfg.AdminToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(h.cfg.AdminToken)) == 1
}

// purgePaths names every public path the stored variants were served under:
// the numeric size, its preset aliases, and the book-wide wildcard.
func (h *handlers) purgePaths(bookID string, variants []cache.VariantKey) []string {
	base := "/covers/" + bookID + "/"
	paths := []string{base + "*"}
	for _, v := range variants {
		paths = append(paths, base+v.Size()+"."+v.Format)
		if v.Height == 0 {
			for name, w := range h.cfg.Sizes {
				if w == v.Width {
					paths = append(paths, base+name+"."+v.Format)
				}
			}
		}
	}
	slices.Sort(paths)
	return slices.Compact(paths)
}
