package proxy

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/transform"
)

// fakePlaceholders is a hand-written PlaceholderSource: one image per
// format, shared by every book, recording what it was asked for.
type fakePlaceholders struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (f *fakePlaceholders) Placeholder(_ context.Context, bookID string, width, height int, format string) (cache.Variant, error) {
	f.mu.Lock()
	f.calls = append(f.calls, fmt.Sprintf("%s %dx%d %s", bookID, width, height, format))
	f.mu.Unlock()
	if f.err != nil {
		return cache.Variant{}, fmt.Errorf("placeholder: %w", f.err)
	}
	b := []byte("shared " + format)
	return cache.Variant{Bytes: b, Tag: cache.Tag(b)}, nil
}

// A placeholder is a shared image served as the book's response: its own
// Surrogate-Key and Cache-Tag, the short placeholder max-age, the marker
// header and the ETag of the shared bytes (304 on revalidation, no body on
// HEAD); errors of the source map like a render's.
func TestPlaceholderResponses(t *testing.T) {
	t.Parallel()
	src := &fakePlaceholders{}
	f := newMetaFixture(t, false, func(d *Deps) { d.Placeholders = src })
	shared := cache.Tag([]byte("shared webp"))
	tests := []struct {
		name     string
		method   string
		path     string
		hdr      map[string]string
		wantCode int
		wantBody string
	}{
		{"GET", http.MethodGet, "/covers/NOCOVER-1/320.webp", nil, 200, "shared webp"},
		{"other book, same image", http.MethodGet, "/covers/NOCOVER-2/320.webp", nil, 200, "shared webp"},
		{"HEAD", http.MethodHead, "/covers/NOCOVER-3/320.webp", nil, 200, ""},
		{"revalidation", http.MethodGet, "/covers/NOCOVER-4/320.webp", map[string]string{"If-None-Match": shared}, 304, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(f.public, tc.method, f.sign(t, tc.path), tc.hdr)
			h := rec.Header()
			book := tc.path[len("/covers/") : len(tc.path)-len("/320.webp")]
			if rec.Code != tc.wantCode || rec.Body.String() != tc.wantBody || h.Get("Etag") != shared ||
				h.Get("Cache-Control") != "public, max-age=60" || h.Get("X-Cover-Placeholder") != "true" ||
				h.Get("Surrogate-Key") != "book-"+book || h.Get("Cache-Tag") != "book-"+book || h.Get("Last-Modified") != "" {
				t.Fatalf("%s %s = %d %q %v; want %d %q, ETag %s, max-age=60, X-Cover-Placeholder, book-%s keys, no Last-Modified",
					tc.method, tc.path, rec.Code, rec.Body.String(), h, tc.wantCode, tc.wantBody, shared, book)
			}
		})
	}
	src.mu.Lock()
	if got := src.calls[0]; got != "NOCOVER-1 320x0 webp" {
		t.Errorf("first placeholder asked for %q; want %q", got, "NOCOVER-1 320x0 webp")
	}
	src.mu.Unlock()

	t.Run("overloaded", func(t *testing.T) {
		over := newMetaFixture(t, false, func(d *Deps) { d.Placeholders = &fakePlaceholders{err: transform.ErrOverloaded} })
		rec := serve(over.public, http.MethodGet, over.sign(t, "/covers/NOCOVER-1/320.webp"), nil)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || rec.Header().Get("X-Cover-Placeholder") != "" {
			t.Fatalf("placeholder with the render queue full = %d %v; want 503 with Retry-After and no placeholder marker", rec.Code, rec.Header())
		}
	})
	t.Run("no source", func(t *testing.T) {
		none := newMetaFixture(t, false, nil)
		rec := serve(none.public, http.MethodGet, none.sign(t, "/covers/NOCOVER-1/320.webp"), nil)
		if rec.Code != http.StatusNotFound {
			t.Fatalf("placeholder without a source = %d; want 404 no_cover", rec.Code)
		}
	})
}
