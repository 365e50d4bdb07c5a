package proxy

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
)

// etag is a strong validator of the exact bytes.
func etag(b []byte) string {
	return `"` + strconv.FormatUint(xxhash.Sum64(b), 16) + `"`
}

// setBookKeys tags a response with its book so a CDN can purge one book.
func setBookKeys(hd http.Header, bookID string) {
	hd.Set("Surrogate-Key", "book-"+bookID)
	hd.Set("Cache-Tag", "book-"+bookID)
}

// writeBody writes an image with validators, answering conditional requests
// with 304 and HEAD without a body.
func writeBody(w http.ResponseWriter, r *http.Request, body []byte, contentType string, modified time.Time) {
	hd := w.Header()
	tag := etag(body)
	hd.Set("ETag", tag)
	hd.Set("X-Content-Type-Options", "nosniff")
	if !modified.IsZero() {
		hd.Set("Last-Modified", modified.UTC().Format(http.TimeFormat))
	}
	if notModified(r, tag, modified) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Type", contentType)
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// notModified follows RFC 9110: If-None-Match wins over If-Modified-Since.
func notModified(r *http.Request, tag string, modified time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		return etagMatches(inm, tag)
	}
	ims := r.Header.Get("If-Modified-Since")
	if ims == "" || modified.IsZero() {
		return false
	}
	t, err := http.ParseTime(ims)
	return err == nil && !modified.Truncate(time.Second).After(t)
}

// etagMatches applies the weak comparison of If-None-Match to a list.
func etagMatches(header, tag string) bool {
	for _, part := range strings.Split(header, ",") {
		part = strings.TrimSpace(part)
		if part == "*" || strings.TrimPrefix(part, "W/") == tag {
			return true
		}
	}
	return false
}
