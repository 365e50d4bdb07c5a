package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/internal/loadloop"
	"github.com/bookcovers/image-worker/transform"
)

// placeholderAnswer is what one placeholder request got.
type placeholderAnswer struct {
	book   string
	status int
	header http.Header
	body   []byte
}

// getConcurrently GETs the signed cover path of each book, 16 at a time, and
// returns the answers in the order of books. A transport error fails the test.
func getConcurrently(t *testing.T, svc *service, books []string, file string, hdr map[string]string) []placeholderAnswer {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	urls := make([]string, len(books))
	for i, b := range books {
		urls[i] = svc.signed("/covers/" + b + "/" + file)
	}
	out := make([]placeholderAnswer, len(books))
	errs := make([]error, len(books))
	loadloop.Run(loadloop.Config{Workers: 16, Total: len(books)}, func(c loadloop.Call) string {
		i := c.Seq
		req, _ := http.NewRequest(http.MethodGet, urls[i], nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			errs[i] = err
			return ""
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		out[i], errs[i] = placeholderAnswer{book: books[i], status: resp.StatusCode, header: resp.Header, body: body}, err
		return ""
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("GET %s: %v", urls[i], err)
		}
	}
	return out
}

// checkPlaceholderHeaders checks that a is the book's placeholder response:
// 200 (or wantStatus), marked, briefly cacheable, purgeable with the book.
func checkPlaceholderHeaders(t *testing.T, a placeholderAnswer, wantStatus int) {
	t.Helper()
	h := a.header
	if a.status != wantStatus || h.Get("X-Cover-Placeholder") != "true" || h.Get("Cache-Control") != "public, max-age=60" ||
		h.Get("Surrogate-Key") != "book-"+a.book || h.Get("Cache-Tag") != "book-"+a.book || h.Get("Etag") == "" {
		t.Fatalf("GET placeholder of %s = %d X-Cover-Placeholder=%q Cache-Control=%q Surrogate-Key=%q Cache-Tag=%q ETag=%q; want %d, true, public, max-age=60, book-%s twice and an ETag",
			a.book, a.status, h.Get("X-Cover-Placeholder"), h.Get("Cache-Control"), h.Get("Surrogate-Key"), h.Get("Cache-Tag"), h.Get("Etag"), wantStatus, a.book)
	}
}

// Issue 12, item 2: placeholders are variants. 1,000 requests for 1,000
// books without a cover cost at most 16 placeholder renders per size and
// format (one per palette entry), 1,000 requests for one such book cost at
// most one, no real render happens, and every response keeps the book's own
// headers (Surrogate-Key, short max-age, X-Cover-Placeholder, an ETag of
// the shared bytes).
func TestPlaceholdersRenderOncePerPaletteEntry(t *testing.T) {
	t.Parallel()
	// The first requests of 16 workers may all need a different entry's
	// render at once: the queue must hold them (the default, 4 per slot on
	// this 2-core machine, answers some with 503 by design).
	svc := startService(t, localStore(t), nil, map[string]string{"TRANSFORM_QUEUE_SIZE": "32"})
	books := make([]string, 1000)
	for i := range books {
		books[i] = fmt.Sprintf("NOCOVER-%d", i)
	}

	for _, c := range []struct {
		file         string
		format       string
		wantW, wantH int
	}{
		{"160.webp", "webp", 160, 240},
		{"320.avif", "avif", 320, 480},
	} {
		t.Run("1000 books "+c.file, func(t *testing.T) {
			before, rendersBefore := svc.app.renderer.Placeholders(), svc.app.renderer.Renders()
			answers := getConcurrently(t, svc, books, c.file, nil)
			if n := svc.app.renderer.Placeholders() - before; n < 1 || n > transform.PaletteSize {
				t.Errorf("1000 books without a cover at %s: %d placeholder renders; want 1 to %d", c.file, n, transform.PaletteSize)
			}
			if n := svc.app.renderer.Renders() - rendersBefore; n != 0 {
				t.Errorf("1000 placeholders: %d cover renders; want 0", n)
			}
			tagOfEntry := map[int]string{}
			entryOfTag := map[string]int{}
			for _, a := range answers {
				checkPlaceholderHeaders(t, a, http.StatusOK)
				entry, tag := cache.PlaceholderEntry(a.book, transform.PaletteSize), a.header.Get("Etag")
				if prev, ok := tagOfEntry[entry]; ok && prev != tag {
					t.Fatalf("books of palette entry %d got ETags %s and %s; want one shared image", entry, prev, tag)
				}
				if prev, ok := entryOfTag[tag]; ok && prev != entry {
					t.Fatalf("palette entries %d and %d got the same ETag %s; want one image per entry", prev, entry, tag)
				}
				if _, ok := tagOfEntry[entry]; !ok {
					info, err := transform.Probe(a.body, 0)
					if err != nil || string(info.Type) != c.format || info.Width != c.wantW || info.Height != c.wantH ||
						a.header.Get("Content-Type") != "image/"+c.format {
						t.Fatalf("placeholder of %s (entry %d) = %s %dx%d (%v), Content-Type %q; want %s %dx%d",
							a.book, entry, info.Type, info.Width, info.Height, err, a.header.Get("Content-Type"), c.format, c.wantW, c.wantH)
					}
				}
				tagOfEntry[entry], entryOfTag[tag] = tag, entry
			}
			if len(tagOfEntry) != transform.PaletteSize {
				t.Errorf("1000 books used %d palette entries; want all %d", len(tagOfEntry), transform.PaletteSize)
			}
		})
	}

	t.Run("1000 requests for one book", func(t *testing.T) {
		one := make([]string, 1000)
		for i := range one {
			one[i] = "NOCOVER-ALONE"
		}
		before := svc.app.renderer.Placeholders()
		answers := getConcurrently(t, svc, one, "96.webp", nil)
		if n := svc.app.renderer.Placeholders() - before; n != 1 {
			t.Errorf("1000 requests for one book without a cover, at a size not asked before: %d placeholder renders; want 1", n)
		}
		for _, a := range answers {
			checkPlaceholderHeaders(t, a, http.StatusOK)
			if a.header.Get("Etag") != answers[0].header.Get("Etag") {
				t.Fatalf("one book's placeholder got ETags %s and %s; want one", answers[0].header.Get("Etag"), a.header.Get("Etag"))
			}
		}
		// The ETag validates: a revalidating CDN gets 304 with the book's keys.
		tag := answers[0].header.Get("Etag")
		revalidated := getConcurrently(t, svc, one[:1], "96.webp", map[string]string{"If-None-Match": tag})
		checkPlaceholderHeaders(t, revalidated[0], http.StatusNotModified)
		if len(revalidated[0].body) != 0 {
			t.Errorf("304 has a %d-byte body", len(revalidated[0].body))
		}
	})

	t.Run("metrics", func(t *testing.T) {
		resp, body := do(t, http.MethodGet, svc.internal+"/metrics", nil)
		for _, want := range []string{
			`covers_cache_placeholder_lookups_total{result="render"} `,
			`covers_cache_placeholder_lookups_total{result="hit"} `,
			`covers_cache_placeholder_memory_bytes `,
		} {
			if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
				t.Errorf("GET /metrics = %d without %q", resp.StatusCode, want)
			}
		}
	})
}
