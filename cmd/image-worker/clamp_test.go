package main

import (
	"fmt"
	"image"
	"image/color"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/transform"
)

// TestOverWideRequestsShareOneVariant: renders never enlarge, so every width
// from 700 to 2048 of a 600x900 original is the same 600x900 image; the key
// is clamped before it is built, so the 1349 URLs render once, store one
// object and answer the same bytes. Oversized boxes that render one output
// share one entry too.
func TestOverWideRequestsShareOneVariant(t *testing.T) {
	src := newSource(t)
	img := image.NewNRGBA(image.Rect(0, 0, 600, 900))
	for y := range 900 {
		for x := range 600 {
			img.Set(x, y, color.NRGBA{uint8(x * 255 / 600), uint8(y * 255 / 900), 128, 255})
		}
	}
	svc := startService(t, localStore(t), src, nil)
	svc.warm("WIDE600", src.add("/w600.png", encodePNG(t, img)))

	// get fetches a size and requires a WebP of w x h; it returns the ETag.
	get := func(size string, w, h int) string {
		t.Helper()
		resp, body := do(t, http.MethodGet, svc.signed("/covers/WIDE600/"+size+".webp"), nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s.webp = %d %s, want 200", size, resp.StatusCode, body)
		}
		info, err := transform.Probe(body, 0)
		if err != nil || info.Type != "webp" || info.Width != w || info.Height != h {
			t.Fatalf("GET %s.webp = %s %dx%d (%v), want webp %dx%d", size, info.Type, info.Width, info.Height, err, w, h)
		}
		return resp.Header.Get("ETag")
	}
	// stored lists the book's variants in the store, once every write
	// behind a response has landed.
	stored := func() []string {
		t.Helper()
		if err := svc.app.variants.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		m, err := svc.app.manifests.Load(t.Context(), "WIDE600")
		if err != nil {
			t.Fatal(err)
		}
		keys, err := svc.store.List(t.Context(), cover.ContentPrefix(m.Content)) // stored by content
		keys = slices.DeleteFunc(keys, func(k string) bool {
			return k == cover.ContentOriginalKey(m.Content) || k == cover.ContentInfoKey(m.Content)
		})
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}

	rendersBefore := svc.app.renderer.Renders()
	etag := get("700", 600, 900)
	for w := 701; w <= 2048; w++ {
		if got := get(fmt.Sprint(w), 600, 900); got != etag {
			t.Fatalf("GET %d.webp ETag = %s, want %s (the 700 px answer's)", w, got, etag)
		}
	}
	if got := svc.app.renderer.Renders() - rendersBefore; got != 1 {
		t.Errorf("widths 700..2048 of a 600 px original rendered %d times, want 1", got)
	}
	if keys := stored(); len(keys) != 1 || !strings.HasSuffix(keys[0], "/600.webp") {
		t.Errorf("widths 700..2048 stored variants %v, want one, .../600.webp", keys)
	}
	if got := get("600", 600, 900); got != etag {
		t.Errorf("GET 600.webp ETag = %s, want the over-wide answers' %s", got, etag)
	}

	boxes := []struct {
		sizes []string
		w, h  int
	}{
		{[]string{"1200x1800", "1300x1950", "1000x1500", "600x900"}, 600, 900},
		{[]string{"2048x2048", "1000x1000", "2000x2000"}, 600, 600},
	}
	for _, b := range boxes {
		before, keysBefore := svc.app.renderer.Renders(), len(stored())
		first := get(b.sizes[0], b.w, b.h)
		for _, size := range b.sizes[1:] {
			if got := get(size, b.w, b.h); got != first {
				t.Errorf("GET %s.webp ETag = %s, want %s (the %s answer's)", size, got, first, b.sizes[0])
			}
		}
		if got := svc.app.renderer.Renders() - before; got != 1 {
			t.Errorf("boxes %v rendered %d times, want 1", b.sizes, got)
		}
		if got := len(stored()) - keysBefore; got != 1 {
			t.Errorf("boxes %v stored %d new variants, want 1", b.sizes, got)
		}
	}
}
