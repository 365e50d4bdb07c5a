package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
)

// cover serves GET and HEAD /covers/{book_id}/{size}.{format}. The order
// matters: nothing is looked up, fetched or rendered before the URL has been
// found canonical and its signature checked (authoriseRead). A size larger
// than the original can give is answered with the variant it renders at
// (the same bytes, ETag and Last-Modified as that size's URL), under the
// URL as requested.
func (h *handlers) cover(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	req, err := h.parseCoverFast(ps.ByName("book_id"), ps.ByName("file"), r.URL.RawQuery)
	if err != nil {
		return err
	}
	read, err := h.authoriseRead(r, &req)
	switch {
	case err != nil:
		return fmt.Errorf("cover: %w", err)
	case errors.Is(read.manifestErr, cache.ErrNotFound):
		return h.placeholder(w, r, req)
	case read.manifestErr != nil:
		if h.coverFromMemory(w, r, req, read.now) {
			return nil
		}
		return fmt.Errorf("cover: %w", read.manifestErr)
	}
	m := read.manifest
	// Renders never enlarge: every size the cover cannot give shares the
	// key of the size it renders at (cover.Manifest.Variant clamps to the
	// original or its trim box), so over-wide requests are one entry in
	// memory and in the store, not one each; and a cover stored by content
	// is one entry whichever books share it.
	key := m.Variant(req.Width, req.Height, req.Fit, string(req.Format))
	v, err := h.d.Variants.GetVariant(read.ctx, key)
	if err != nil {
		return fmt.Errorf("cover: %w", err)
	}
	hd := w.Header()
	hd["Cache-Control"] = h.cacheControlValue(req, m.Version, read.now)
	setBookKeys(hd, req.BookID)
	h.writeVariant(w, r, v, req.Format.ContentType(), m.UpdatedAt)
	return nil
}

// parseCoverFast is parseCover with a shortcut for the most common query,
// "sig=" and a base64url token: url.ParseQuery would give exactly that one
// value (nothing to unescape, no separator), and building its map is a
// fifth of a cache hit's handler time. Any other query takes parseCover.
func (h *handlers) parseCoverFast(bookID, file, rawQuery string) (coverRequest, error) {
	sig, ok := strings.CutPrefix(rawQuery, "sig=")
	if !ok || !isBase64URL(sig) {
		return h.cfg.parseCover(bookID, file, rawQuery)
	}
	req, err := h.cfg.parseCover(bookID, file, "")
	if err != nil {
		return coverRequest{}, err
	}
	req.Sig = sig
	return req, nil
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// coverFromMemory serves a versioned URL (v=...) from this replica's
// memory when the manifest cannot be read (the store is down): the URL
// names the version, so the bytes need no manifest (a cover stored by
// content is found through the content this replica served that version
// by, cache.Variants.Cached). It reports whether it answered.
func (h *handlers) coverFromMemory(w http.ResponseWriter, r *http.Request, req coverRequest, now time.Time) bool {
	if req.V == "" {
		return false
	}
	v, ok := h.d.Variants.Cached(cover.VariantKey{BookID: req.BookID, Version: req.V, Width: req.Width, Height: req.Height, Fit: req.Fit, Format: string(req.Format)})
	if !ok {
		return false
	}
	hd := w.Header()
	hd["Cache-Control"] = h.cacheControlValue(req, req.V, now)
	setBookKeys(hd, req.BookID)
	h.writeVariant(w, r, v, req.Format.ContentType(), time.Time{})
	return true
}

// cacheControlValue is cacheControl as a header value, shared and built
// once for the two cases that depend only on the configuration.
func (h *handlers) cacheControlValue(req coverRequest, current string, now time.Time) []string {
	if req.Exp == "" {
		c := h.headerConsts()
		if req.V != "" && req.V == current {
			return c.immutable
		}
		return c.unversioned
	}
	return []string{h.cacheControl(req, current, now)}
}

// cacheControl: a current v is immutable for a year; without v (or with a v
// that is no longer current) the response may be cached for COVER_MAX_AGE
// with stale-while-revalidate. An exp caps max-age so a CDN never serves a
// URL after it expired.
func (h *handlers) cacheControl(req coverRequest, current string, now time.Time) string {
	maxAge := int64(h.cfg.MaxAge.Seconds())
	immutable := req.V != "" && req.V == current
	if immutable {
		maxAge = 365 * 24 * 3600
	}
	if req.Exp != "" {
		exp, _ := strconv.ParseInt(req.Exp, 10, 64) // already validated by CheckExpiry
		maxAge = min(maxAge, exp-now.Unix())
		immutable = false
	}
	switch {
	case immutable:
		return "public, max-age=" + strconv.FormatInt(maxAge, 10) + ", immutable"
	case req.Exp != "":
		return "public, max-age=" + strconv.FormatInt(maxAge, 10)
	default:
		return "public, max-age=" + strconv.FormatInt(maxAge, 10) + ", stale-while-revalidate=" + strconv.FormatInt(int64(h.cfg.StaleWhile.Seconds()), 10)
	}
}
