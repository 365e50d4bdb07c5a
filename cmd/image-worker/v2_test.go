package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/color"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/image/webp"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
	"github.com/bookcovers/image-worker/internal/loadloop"
	"github.com/bookcovers/image-worker/transform"
)

// v2Result is the body of POST /v2/process and of meta.json.
type v2Result struct {
	JobID         *string                      `json:"job_id"`
	BookID        string                       `json:"book_id"`
	Version       string                       `json:"version"`
	SourceURL     string                       `json:"source_url"`
	Width         int                          `json:"width"`
	Height        int                          `json:"height"`
	Format        string                       `json:"format"`
	Bytes         int                          `json:"bytes"`
	DominantColor string                       `json:"dominant_color"`
	BlurHash      string                       `json:"blurhash"`
	LQIP          string                       `json:"lqip"`
	Covers        map[string]map[string]string `json:"covers"`
}

var (
	hexColour = regexp.MustCompile(`^#[0-9a-f]{6}$`)
	jobIDForm = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// postV2 sends POST /v2/process to base and returns the answer.
func postV2(t *testing.T, base, bookID, imageURL string) (*http.Response, []byte) {
	t.Helper()
	body := fmt.Sprintf(`{"book_id":%q,"image_url":%q}`, bookID, imageURL)
	resp, err := http.Post(base+"/v2/process", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST /v2/process: %v", err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp, buf.Bytes()
}

// checkPreview checks the metadata fields computed from the pixels.
func checkPreview(t *testing.T, r v2Result) {
	t.Helper()
	if !hexColour.MatchString(r.DominantColor) {
		t.Errorf("dominant_color = %q, want #rrggbb", r.DominantColor)
	}
	if len(r.BlurHash) != 28 || r.BlurHash[0] != 'T' {
		t.Errorf("blurhash = %q, want 28 characters starting with T (3x4 components)", r.BlurHash)
	}
	if len(r.LQIP) > 1024 {
		t.Errorf("lqip is %d bytes, want <= 1024", len(r.LQIP))
	}
	b64, ok := strings.CutPrefix(r.LQIP, "data:image/webp;base64,")
	raw, err := base64.StdEncoding.DecodeString(b64)
	if !ok || err != nil {
		t.Fatalf("lqip %.40q is not a base64 WebP data URI: %v", r.LQIP, err)
	}
	cfg, err := webp.DecodeConfig(bytes.NewReader(raw))
	if err != nil || cfg.Width > 32 || cfg.Width < 4 {
		t.Errorf("lqip decodes as %dx%d (%v), want a WebP at most 32 wide", cfg.Width, cfg.Height, err)
	} else if got, want := float64(cfg.Height)/float64(cfg.Width), float64(r.Height)/float64(r.Width); got < want-0.2 || got > want+0.2 {
		t.Errorf("lqip %dx%d has aspect %.2f, want about %.2f", cfg.Width, cfg.Height, got, want)
	}
}

// checkCoversServe fetches every cover path of a result and checks what
// comes back by probing it.
func checkCoversServe(t *testing.T, svc *service, r v2Result, signed bool) {
	t.Helper()
	sizes := svc.app.cfg.Proxy.Sizes
	if len(r.Covers) != len(sizes) {
		t.Errorf("covers has %d presets, want %d", len(r.Covers), len(sizes))
	}
	for preset, sz := range sizes {
		width := sz.Width
		for _, format := range []string{"webp", "avif"} {
			p := r.Covers[preset][format]
			u, err := url.Parse(p)
			if err != nil || u.Path != "/covers/"+r.BookID+"/"+preset+"."+format || u.Query().Get("v") != r.Version || (u.Query().Get("sig") != "") != signed {
				t.Errorf("covers.%s.%s = %q, want its path with v=%s, signed: %v", preset, format, p, r.Version, signed)
				continue
			}
			resp, body := do(t, http.MethodGet, svc.base+p, nil)
			info, err := transform.Probe(body, 0)
			if resp.StatusCode != 200 || err != nil || string(info.Type) != format || info.Width != width || info.Height != width*r.Height/r.Width {
				t.Errorf("GET covers.%s.%s = %d %s %dx%d (%v), want 200 %s %dx%d", preset, format, resp.StatusCode, info.Type, info.Width, info.Height, err, format, width, width*r.Height/r.Width)
			}
			if cc := resp.Header.Get("Cache-Control"); !strings.HasSuffix(cc, "immutable") {
				t.Errorf("GET covers.%s.%s: Cache-Control %q, want immutable (v is current)", preset, format, cc)
			}
		}
	}
}

func TestV2ProcessAnswersMetadataAndServableCovers(t *testing.T) {
	src := newSource(t)
	original := readTestdata(t, "photo-1600x2400-baseline.jpg")
	img := src.add("/b123.jpg", original)
	// The solid red cover below is a placeholder under the default rules
	// (uniform); this test is about the metadata of a stored cover.
	svc := startService(t, localStore(t), src, map[string]string{"PLACEHOLDER_MIN_DEVIATION": "0"})
	resp, body := postV2(t, svc.base, "B123", img)
	var r v2Result
	if resp.StatusCode != 200 || json.Unmarshal(body, &r) != nil {
		t.Fatalf("POST /v2/process = %d %s, want 200 JSON", resp.StatusCode, body)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers = %v, want JSON with no-store", resp.Header)
	}
	if r.JobID == nil || !jobIDForm.MatchString(*r.JobID) {
		t.Fatalf("job_id = %v, want 32 hex", r.JobID)
	}
	if j := svc.waitJob(*r.JobID); j.State != "succeeded" || j.Version != r.Version {
		t.Errorf("GET /jobs/%s = %+v, want succeeded with version %s", *r.JobID, j, r.Version)
	}
	if r.BookID != "B123" || r.Version != ingest.Version(original) || r.SourceURL != img || r.Width != 1600 || r.Height != 2400 ||
		r.Format != "jpeg" || r.Bytes != len(original) {
		t.Errorf("result = %+v, want B123, version %s, %s, 1600x2400 jpeg of %d bytes", r, ingest.Version(original), img, len(original))
	}
	checkPreview(t, r)
	checkCoversServe(t, svc, r, true)

	t.Run("solid red cover", func(t *testing.T) {
		redURL := src.add("/red.png", encodePNG(t, solid(400, 600, color.RGBA{255, 0, 0, 255})))
		resp, body := postV2(t, svc.internal, "RED", redURL)
		var r v2Result
		if resp.StatusCode != 200 || json.Unmarshal(body, &r) != nil {
			t.Fatalf("POST /v2/process (internal listener) = %d %s", resp.StatusCode, body)
		}
		var c [3]int
		if _, err := fmt.Sscanf(r.DominantColor, "#%02x%02x%02x", &c[0], &c[1], &c[2]); err != nil || c[0] < 253 || c[1] > 2 || c[2] > 2 {
			t.Errorf("dominant_color of a solid red PNG = %q, want #ff0000 ±2", r.DominantColor)
		}
		if r.Format != "png" || r.Width != 400 || r.Height != 600 {
			t.Errorf("result = %s %dx%d, want png 400x600", r.Format, r.Width, r.Height)
		}
		checkPreview(t, r)
	})
}

func TestV2ProcessUnsignedCoversWhenSigningIsDisabled(t *testing.T) {
	src := newSource(t)
	img := src.add("/b.jpg", readTestdata(t, "photo-1600x2400-baseline.jpg"))
	svc := startService(t, localStore(t), src, map[string]string{"IMAGE_SIGNING_DISABLED": "true", "IMAGE_SIGNING_KEYS": ""})
	resp, body := postV2(t, svc.base, "OPEN", img)
	var r v2Result
	if resp.StatusCode != 200 || json.Unmarshal(body, &r) != nil {
		t.Fatalf("POST /v2/process = %d %s", resp.StatusCode, body)
	}
	checkCoversServe(t, svc, r, false)
}

func TestV2ProcessFailedJobs(t *testing.T) {
	src := newSource(t)
	svc := startService(t, localStore(t), src, nil)
	hop := src.redirect("/r3", src.srv.URL+"/r4")
	hop = src.redirect("/r2", hop)
	hop = src.redirect("/r1", hop)
	src.redirect("/r4", src.srv.URL+"/r5")
	cases := []struct {
		name, book, url string
		status          int
		code            string
	}{
		{"source answers 404", "GONE", src.srv.URL + "/missing.jpg", 502, "source_rejected"},
		{"not an image", "TEXT", src.add("/t.txt", []byte("plain text, not an image at all")), 422, "not_an_image"},
		{"too many redirects", "HOPS", src.redirect("/r0", hop), 502, "too_many_redirects"},
	}
	for _, c := range cases {
		for _, base := range []string{svc.base, svc.internal} {
			resp, body := postV2(t, base, c.book, c.url)
			var e struct {
				Error struct{ Code, Message string }
				JobID string `json:"job_id"`
			}
			if resp.StatusCode != c.status || json.Unmarshal(body, &e) != nil || e.Error.Code != c.code || e.Error.Message == "" || !jobIDForm.MatchString(e.JobID) {
				t.Errorf("%s: POST %s/v2/process = %d %s, want %d %s with job_id", c.name, base, resp.StatusCode, body, c.status, c.code)
				continue
			}
			if j := svc.waitJob(e.JobID); j.State != "failed" || j.Error == nil || j.Error.Code != c.code {
				t.Errorf("%s: GET /jobs/%s = %+v, want failed with %s", c.name, e.JobID, j, c.code)
			}
		}
	}
}

func TestMetaJSONComputedOncePerVersion(t *testing.T) {
	src := newSource(t)
	original := readTestdata(t, "photo-1600x2400-baseline.jpg")
	img := src.add("/m1.jpg", original)
	store := localStore(t)
	svc := startService(t, store, src, nil)
	job := svc.warm("M1", img) // POST /process: no metadata yet
	if n := svc.app.metas.Computed(); n != 0 {
		t.Fatalf("metadata computed %d times by POST /process, want 0 (lazily on first need)", n)
	}
	metaURL := svc.signed("/covers/M1/meta.json")
	bodies := make([][]byte, 5)
	loadloop.Run(loadloop.Config{Workers: len(bodies), Each: 1}, func(c loadloop.Call) string {
		req, _ := http.NewRequest(http.MethodGet, metaURL, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("GET meta.json: %v", err)
			return ""
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		if resp.StatusCode != 200 {
			t.Errorf("GET meta.json = %d %s", resp.StatusCode, buf.Bytes())
		}
		bodies[c.Worker] = buf.Bytes()
		return ""
	})
	if n := svc.app.metas.Computed(); n != 1 {
		t.Errorf("5 concurrent meta.json requests computed %d times, want 1", n)
	}
	var r v2Result
	if err := json.Unmarshal(bodies[0], &r); err != nil || r.JobID != nil || r.Version != job.Version || r.Width != 1600 || r.Height != 2400 {
		t.Fatalf("meta.json = %s (%v), want the metadata of version %s without job_id", bodies[0], err, job.Version)
	}
	for i, b := range bodies[1:] {
		if !bytes.Equal(b, bodies[0]) {
			t.Errorf("meta.json answer %d differs from the first", i+1)
		}
	}
	checkPreview(t, r)
	checkCoversServe(t, svc, r, true)
	if _, err := store.Get(t.Context(), cover.MetaKey("M1", job.Version)); err != nil {
		t.Errorf("stored metadata: %v, want it beside the manifest at %s", err, cover.MetaKey("M1", job.Version))
	}

	resp, _ := do(t, http.MethodGet, metaURL, nil)
	hd := resp.Header
	if hd.Get("Surrogate-Key") != "book-M1" || hd.Get("Cache-Tag") != "book-M1" || hd.Get("X-Content-Type-Options") != "nosniff" ||
		hd.Get("Last-Modified") == "" || !strings.Contains(hd.Get("Cache-Control"), "stale-while-revalidate") || hd.Get("ETag") == "" {
		t.Errorf("meta.json headers = %v", hd)
	}
	if resp, b := do(t, http.MethodGet, metaURL, map[string]string{"If-None-Match": hd.Get("ETag")}); resp.StatusCode != 304 || len(b) != 0 {
		t.Errorf("If-None-Match = %d with %d bytes, want 304", resp.StatusCode, len(b))
	}
	if resp, b := do(t, http.MethodHead, metaURL, nil); resp.StatusCode != 200 || len(b) != 0 || resp.Header.Get("ETag") != hd.Get("ETag") {
		t.Errorf("HEAD = %d with %d bytes, ETag %q", resp.StatusCode, len(b), resp.Header.Get("ETag"))
	}
	for _, c := range []struct {
		name, url string
		status    int
	}{
		{"unsigned", svc.base + "/covers/M1/meta.json", 403},
		{"expired", svc.signed("/covers/M1/meta.json?exp=1000"), 410},
		{"book without a cover (placeholders on)", svc.signed("/covers/NOCOVER/meta.json"), 404},
	} {
		if resp, b := do(t, http.MethodGet, c.url, nil); resp.StatusCode != c.status {
			t.Errorf("%s: GET meta.json = %d %s, want %d", c.name, resp.StatusCode, b, c.status)
		}
	}

	// A restart on the same store serves the stored metadata: no computation,
	// no read of the original.
	svc.stop()
	again := startService(t, store, src, map[string]string{"ADMIN_TOKEN": "v2-admin-token"})
	resp, b := do(t, http.MethodGet, again.signed("/covers/M1/meta.json"), nil)
	if resp.StatusCode != 200 || !bytes.Equal(b, bodies[0]) {
		t.Errorf("meta.json after a restart = %d %s, want the same answer", resp.StatusCode, b)
	}
	if n, reads := again.app.metas.Computed(), again.store.count("originals"); n != 0 || reads != 0 {
		t.Errorf("after a restart: %d computations, %d original reads; want 0, 0", n, reads)
	}

	// Purge removes the metadata with the book.
	if resp, b := do(t, http.MethodDelete, again.internal+"/covers/M1", map[string]string{"Authorization": "Bearer v2-admin-token"}); resp.StatusCode != 200 {
		t.Fatalf("DELETE /covers/M1 = %d %s", resp.StatusCode, b)
	}
	if left, err := store.List(t.Context(), "meta/M1/"); err != nil || len(left) != 0 {
		t.Errorf("metadata left after purge: %v, %v", left, err)
	}
	if resp, _ := do(t, http.MethodGet, again.signed("/covers/M1/meta.json"), nil); resp.StatusCode != 404 {
		t.Errorf("meta.json after purge = %d, want 404", resp.StatusCode)
	}
}
