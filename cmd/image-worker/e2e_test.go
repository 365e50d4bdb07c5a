package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/internal/loadloop"
	"github.com/bookcovers/image-worker/transform"
)

// TestCoversLocalStore runs the end-to-end suite on the embedded local store.
func TestCoversLocalStore(t *testing.T) { runCoverSuite(t, localStore) }

// runCoverSuite drives the whole service over HTTP: process, sign, render, cache.
func runCoverSuite(t *testing.T, newStore func(*testing.T) cache.Store) {
	src := newSource(t)
	baseline := src.add("/baseline.jpg", readTestdata(t, "photo-1600x2400-baseline.jpg"))
	svc := startService(t, newStore(t), src, nil)
	job := svc.warm("B123", baseline)
	if len(job.Version) != 12 {
		t.Fatalf("job version = %q, want 12 hex chars", job.Version)
	}

	t.Run("sizes and formats", func(t *testing.T) {
		cases := []struct {
			path         string
			wantW, wantH int
			format       transform.SourceType
		}{
			{"/covers/B123/thumb.webp", 96, 144, "webp"},
			{"/covers/B123/medium.avif", 320, 480, "avif"},
			{"/covers/B123/xlarge.webp", 1280, 1920, "webp"},
			{"/covers/B123/320.webp", 320, 480, "webp"},
			{"/covers/B123/640.avif", 640, 960, "avif"},
			{"/covers/B123/320x480.webp", 320, 480, "webp"},
			{"/covers/B123/200x200.avif", 200, 200, "avif"},
			{"/covers/B123/2000.webp", 1600, 2400, "webp"}, // never enlarged
			{"/covers/B123/medium.jpg", 320, 480, "jpeg"},
			{"/covers/B123/200x200.jpg", 200, 200, "jpeg"},
		}
		for _, c := range cases {
			resp, body := do(t, http.MethodGet, svc.signed(c.path), nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s = %d %s", c.path, resp.StatusCode, body)
			}
			info, err := transform.Probe(body, 0)
			if err != nil || info.Type != c.format || info.Width != c.wantW || info.Height != c.wantH {
				t.Errorf("GET %s = %s %dx%d (%v), want %s %dx%d", c.path, info.Type, info.Width, info.Height, err, c.format, c.wantW, c.wantH)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "image/"+string(c.format) {
				t.Errorf("GET %s Content-Type = %q", c.path, ct)
			}
		}
	})

	t.Run("CDN headers, 304 and HEAD", func(t *testing.T) {
		resp, body := do(t, http.MethodGet, svc.signed("/covers/B123/320.webp"), nil)
		h := resp.Header
		for k, want := range map[string]string{
			"Cache-Control":          "public, max-age=86400, stale-while-revalidate=3600",
			"X-Content-Type-Options": "nosniff",
			"Surrogate-Key":          "book-B123",
			"Cache-Tag":              "book-B123",
			"Content-Length":         fmt.Sprint(len(body)),
		} {
			if got := h.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
		etag := h.Get("ETag")
		if !strings.HasPrefix(etag, `"`) || h.Get("Last-Modified") == "" {
			t.Fatalf("ETag %q / Last-Modified %q missing", etag, h.Get("Last-Modified"))
		}
		resp, body = do(t, http.MethodGet, svc.signed("/covers/B123/320.webp"), map[string]string{"If-None-Match": etag})
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("If-None-Match = %d with %d bytes, want 304 empty", resp.StatusCode, len(body))
		}
		resp, _ = do(t, http.MethodGet, svc.signed("/covers/B123/320.webp"), map[string]string{"If-Modified-Since": h.Get("Last-Modified")})
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("If-Modified-Since = %d, want 304", resp.StatusCode)
		}
		resp, body = do(t, http.MethodHead, svc.signed("/covers/B123/320.webp"), nil)
		if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.Header.Get("ETag") != etag || resp.ContentLength <= 0 {
			t.Errorf("HEAD = %d, %d body bytes, ETag %q, length %d", resp.StatusCode, len(body), resp.Header.Get("ETag"), resp.ContentLength)
		}
		resp, _ = do(t, http.MethodGet, svc.signed("/covers/B123/320.webp?v="+job.Version), nil)
		if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("current v Cache-Control = %q", cc)
		}
		resp, _ = do(t, http.MethodGet, svc.signed("/covers/B123/320.webp?v=000000000000"), nil)
		if cc := resp.Header.Get("Cache-Control"); resp.StatusCode != 200 || strings.Contains(cc, "immutable") {
			t.Errorf("stale v = %d Cache-Control %q, want 200 without immutable", resp.StatusCode, cc)
		}
	})

	t.Run("signatures", func(t *testing.T) {
		good := svc.signed("/covers/B123/320.webp")
		future := fmt.Sprint(time.Now().Add(time.Hour).Unix())
		past := fmt.Sprint(time.Now().Add(-time.Minute).Unix())
		cases := []struct {
			name, url string
			want      int
			code      string
		}{
			{"missing", svc.base + "/covers/B123/320.webp", 403, "missing_signature"},
			{"tampered path", strings.Replace(good, "320.webp", "640.webp", 1), 403, "bad_signature"},
			{"tampered sig", good[:len(good)-1] + flip(good[len(good)-1]), 403, "bad_signature"},
			{"other key", svc.base + "/covers/B123/320.webp?sig=" + otherKeySig(t, "/covers/B123/320.webp"), 403, "bad_signature"},
			{"expired", svc.signed("/covers/B123/320.webp?exp=" + past), 410, "expired"},
			{"not expired", svc.signed("/covers/B123/320.webp?exp=" + future), 200, ""},
			{"extra param", good + "&w=5", 400, "bad_query"},
			{"duplicate sig", good + "&sig=x", 400, "bad_query"},
			{"bad size", svc.signed("/covers/B123/9.webp"), 400, "bad_size"},
			{"bad format", svc.base + "/covers/B123/320.png", 400, "bad_format"},
			{"bad book", svc.base + "/covers/.hidden/320.webp", 400, "invalid_book_id"},
		}
		for _, c := range cases {
			resp, body := do(t, http.MethodGet, c.url, nil)
			if resp.StatusCode != c.want {
				t.Errorf("%s: GET = %d %s, want %d", c.name, resp.StatusCode, body, c.want)
				continue
			}
			if c.code != "" {
				assertErrorBody(t, c.name, resp, body, c.code)
			}
		}
	})

	t.Run("rotated key", func(t *testing.T) {
		newKey := strings.Repeat("ab", 32)
		rot := startService(t, svc.app.store, src, map[string]string{"IMAGE_SIGNING_KEYS": newKey + "," + testKeyHex})
		resp, _ := do(t, http.MethodGet, rot.base+strings.TrimPrefix(svc.signed("/covers/B123/320.webp"), svc.base), nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("URL signed with the old (second) key = %d, want 200", resp.StatusCode)
		}
		resp, _ = do(t, http.MethodGet, rot.signed("/covers/B123/320.webp"), nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("URL signed with the new key = %d, want 200", resp.StatusCode)
		}
	})

	t.Run("placeholder", func(t *testing.T) {
		resp, body := do(t, http.MethodGet, svc.signed("/covers/NOPE-1/320x480.avif"), nil)
		info, err := transform.Probe(body, 0)
		if resp.StatusCode != 200 || resp.Header.Get("X-Cover-Placeholder") != "true" || resp.Header.Get("Cache-Control") != "public, max-age=60" ||
			err != nil || info.Type != "avif" || info.Width != 320 || info.Height != 480 {
			t.Errorf("placeholder = %d %v %s %dx%d (%v)", resp.StatusCode, resp.Header, info.Type, info.Width, info.Height, err)
		}
		off := startService(t, svc.app.store, src, map[string]string{"PLACEHOLDERS": "false"})
		resp, body = do(t, http.MethodGet, off.signed("/covers/NOPE-1/320.webp"), nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("PLACEHOLDERS=false = %d %s, want 404", resp.StatusCode, body)
		}
		assertErrorBody(t, "no cover", resp, body, "no_cover")
	})

	t.Run("50 concurrent requests render once", func(t *testing.T) {
		rendersBefore := svc.app.renderer.Renders()
		originalsBefore := svc.store.count("originals")
		u := svc.signed("/covers/B123/333.webp")
		statuses := make([]int, 50)
		loadloop.Run(loadloop.Config{Workers: len(statuses), Each: 1}, func(c loadloop.Call) string {
			resp, _ := do(t, http.MethodGet, u, nil)
			statuses[c.Worker] = resp.StatusCode
			return ""
		})
		for i, s := range statuses {
			if s != 200 {
				t.Errorf("request %d = %d", i, s)
			}
		}
		if got := svc.app.renderer.Renders() - rendersBefore; got != 1 {
			t.Errorf("renders = %d, want 1", got)
		}
		// At most one: the original may already be in memory from an earlier render.
		if got := svc.store.count("originals") - originalsBefore; got > 1 {
			t.Errorf("original reads = %d, want at most 1", got)
		}
	})

	t.Run("same URL again does not download", func(t *testing.T) {
		before := src.count("/baseline.jpg")
		svc.warm("B123", baseline)
		if got := src.count("/baseline.jpg") - before; got != 0 {
			t.Errorf("re-post fetched the origin %d times, want 0", got)
		}
		j := svc.waitJob(svc.process("B123", baseline, "?refresh=true"))
		if j.State != "succeeded" || src.count("/baseline.jpg")-before != 1 {
			t.Errorf("refresh=true: job %+v, fetches %d, want 1", j, src.count("/baseline.jpg")-before)
		}
	})

	t.Run("re-processed cover shows after MANIFEST_TTL", func(t *testing.T) {
		pano := src.add("/pano.jpg", readTestdata(t, "panorama-4272x356.jpg"))
		svc.warm("B777", baseline)
		if w, h := probeGet(t, svc.signed("/covers/B777/320.webp")); w != 320 || h != 480 {
			t.Fatalf("first cover = %dx%d, want 320x480", w, h)
		}
		other := startService(t, svc.app.store, src, nil) // a second replica shares the store
		if w, h := probeGet(t, other.signed("/covers/B777/320.webp")); w != 320 || h != 480 {
			t.Fatalf("second replica first cover = %dx%d", w, h)
		}
		svc.warm("B777", pano)
		time.Sleep(1100 * time.Millisecond) // MANIFEST_TTL=1s
		for _, s := range []*service{svc, other} {
			if w, h := probeGet(t, s.signed("/covers/B777/320.webp")); w != 320 || h != 27 {
				t.Errorf("after TTL cover = %dx%d, want the panorama 320x27", w, h)
			}
		}
	})

	t.Run("restart serves from the store", func(t *testing.T) {
		do(t, http.MethodGet, svc.signed("/covers/B123/160.avif"), nil)
		fetches := src.count("/baseline.jpg")
		svc.stop()
		again := startService(t, svc.app.store, src, nil)
		resp, body := do(t, http.MethodGet, again.signed("/covers/B123/160.avif"), nil)
		info, _ := transform.Probe(body, 0)
		if resp.StatusCode != 200 || info.Width != 160 {
			t.Fatalf("after restart = %d %dx%d", resp.StatusCode, info.Width, info.Height)
		}
		if again.app.renderer.Renders() != 0 || src.count("/baseline.jpg") != fetches {
			t.Errorf("after restart: renders %d, origin fetches +%d, want 0 and 0", again.app.renderer.Renders(), src.count("/baseline.jpg")-fetches)
		}
	})
}

func probeGet(t *testing.T, u string) (int, int) {
	t.Helper()
	resp, body := do(t, http.MethodGet, u, nil)
	info, err := transform.Probe(body, 0)
	if resp.StatusCode != 200 || err != nil {
		t.Fatalf("GET = %d (%v)", resp.StatusCode, err)
	}
	return info.Width, info.Height
}

func assertErrorBody(t *testing.T, name string, resp *http.Response, body []byte, code string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != code || e.Error.Message == "" {
		t.Errorf("%s: body %s, want error code %q", name, body, code)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s: error Cache-Control = %q, want no-store", name, cc)
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func otherKeySig(t *testing.T, path string) string {
	other := startServiceSigner(t, strings.Repeat("cd", 32))
	return other.Sign(path, nil)
}

// pngHeader builds the signature and IHDR of a PNG declaring w×h pixels.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2
	chunk := append([]byte("IHDR"), ihdr...)
	_ = binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(chunk)
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}
