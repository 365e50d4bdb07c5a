package main

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bookcovers/image-worker/signing"
)

func startServiceSigner(t *testing.T, keyHex string) *signing.Signer {
	t.Helper()
	keys, err := signing.ParseKeys(keyHex)
	if err != nil {
		t.Fatal(err)
	}
	s, err := signing.New(signing.Config{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFrozenContractAndListeners(t *testing.T) {
	svc := startService(t, localStore(t), nil, nil)
	resp, body := do(t, http.MethodGet, svc.base+"/health", nil)
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"status":"ok","stub":false}` {
		t.Errorf("GET /health = %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, http.MethodGet, svc.base+"/ready", nil)
	if resp.StatusCode != 200 {
		t.Errorf("GET /ready = %d %s", resp.StatusCode, body)
	}
	for _, p := range []string{"/metrics", "/_groupcache/covers/x"} {
		if resp, _ := do(t, http.MethodGet, svc.base+p, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("public GET %s = %d, want 404 (internal only)", p, resp.StatusCode)
		}
	}
	resp, body = do(t, http.MethodGet, svc.internal+"/metrics", nil)
	for _, name := range []string{"covers_http_requests_total", "covers_transform_queue_depth", "covers_cache_memory_bytes"} {
		if resp.StatusCode != 200 || !strings.Contains(string(body), name) {
			t.Errorf("internal /metrics = %d, missing %s", resp.StatusCode, name)
		}
	}
}

func TestProcessRejectsBadRequests(t *testing.T) {
	src := newSource(t)
	svc := startService(t, localStore(t), src, nil)
	forbidden, conns := forbiddenListener(t)
	defer func() {
		if n := conns.Load(); n != 0 {
			t.Errorf("the forbidden loopback server accepted %d connections, want 0", n)
		}
	}()
	cases := []struct {
		name, ctype, body string
		want              int
		code              string
	}{
		{"malformed JSON", "application/json", `{"book_id":`, 400, "bad_json"},
		{"not an object", "application/json", `[1,2]`, 400, "bad_json"},
		{"null", "application/json", `null`, 400, "bad_json"},
		{"trailing data", "application/json", `{"book_id":"B1","image_url":"http://x"} {}`, 400, "bad_json"},
		{"missing url", "application/json", `{"book_id":"B1"}`, 400, "missing_field"},
		{"wrong type", "application/json", `{"book_id":1,"image_url":"http://x"}`, 400, "bad_json"},
		{"bad book id", "application/json", `{"book_id":"../etc","image_url":"http://a.example/x.jpg"}`, 400, "invalid_book_id"},
		{"ftp url", "application/json", `{"book_id":"B1","image_url":"ftp://a.example/x.jpg"}`, 400, "invalid_url"},
		{"userinfo", "application/json", `{"book_id":"B1","image_url":"http://u:p@a.example/x.jpg"}`, 400, "invalid_url"},
		{"loopback literal", "application/json", `{"book_id":"B1","image_url":"http://` + forbidden.Addr().String() + `/x.jpg"}`, 400, "blocked_address"},
		{"decimal loopback", "application/json", `{"book_id":"B1","image_url":"http://2130706433/x.jpg"}`, 400, "blocked_address"},
		{"text/plain", "text/plain", `{}`, 415, "unsupported_media_type"},
		{"no content type", "", `{}`, 415, "unsupported_media_type"},
		{"too large", "application/json", `{"book_id":"B1","image_url":"http://a.example/` + strings.Repeat("a", 70<<10) + `"}`, 413, "body_too_large"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodPost, svc.base+"/process", strings.NewReader(c.body))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var e struct {
			Error struct{ Code, Message string }
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != c.want || e.Error.Code != c.code {
			t.Errorf("%s: POST /process = %d %q, want %d %q", c.name, resp.StatusCode, e.Error.Code, c.want, c.code)
		}
	}
	if resp, _ := do(t, http.MethodGet, svc.base+"/jobs/0123456789abcdef0123456789abcdef", nil); resp.StatusCode != 404 {
		t.Errorf("unknown job = %d, want 404", resp.StatusCode)
	}
	if resp, _ := do(t, http.MethodGet, svc.base+"/jobs/..%2F..%2Fetc", nil); resp.StatusCode != 404 {
		t.Errorf("traversal job id = %d, want 404", resp.StatusCode)
	}
}

func TestProcessFailuresRecordStableCodes(t *testing.T) {
	src := newSource(t)
	svc := startService(t, localStore(t), src, nil)
	baseline := readTestdata(t, "photo-1600x2400-baseline.jpg")
	forbidden, conns := forbiddenListener(t)
	defer func() {
		if n := conns.Load(); n != 0 {
			t.Errorf("the forbidden loopback server accepted %d connections, want 0", n)
		}
	}()
	hop2 := src.redirect("/hop2", "http://"+forbidden.Addr().String()+"/x.jpg")
	redirect := src.redirect("/hop1", hop2)
	cases := []struct {
		name string
		url  string
		code string
	}{
		{"bomb", src.add("/bomb.png", pngHeader(40000, 40000)), "too_many_pixels"},
		{"truncated jpeg", src.add("/trunc.jpg", baseline[:len(baseline)*6/10]), "not_an_image"},
		{"html", src.add("/page.jpg", []byte("<!doctype html><html><body>hi</body></html>")), "not_an_image"},
		{"empty", src.add("/empty.jpg", []byte{}), "not_an_image"},
		{"svg", src.add("/c.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>`)), "unsupported_type"},
		{"404", src.srv.URL + "/missing.jpg", "source_rejected"},
		{"redirect to private", redirect, "blocked_address"},
	}
	for _, c := range cases {
		j := svc.waitJob(svc.process("BAD-"+strings.ReplaceAll(c.name, " ", "-"), c.url, ""))
		if j.State != "failed" || j.Error == nil || j.Error.Code != c.code || j.Error.Message == "" {
			t.Errorf("%s: job = %+v, want failed with %q", c.name, j, c.code)
		}
	}
	if n := svc.app.renderer.Renders(); n != 0 {
		t.Errorf("renders after refused originals = %d, want 0", n)
	}
	// A refused original leaves the book without a cover: placeholder, not 500.
	resp, _ := do(t, http.MethodGet, svc.signed("/covers/BAD-bomb/320.webp"), nil)
	if resp.StatusCode != 200 || resp.Header.Get("X-Cover-Placeholder") != "true" {
		t.Errorf("cover of refused book = %d, placeholder %q", resp.StatusCode, resp.Header.Get("X-Cover-Placeholder"))
	}
}

func TestProcessDeduplicatesQueuedJobs(t *testing.T) {
	src := newSource(t)
	svc := startService(t, localStore(t), src, map[string]string{"JOB_WORKERS": "1"})
	u := src.add("/b.jpg", readTestdata(t, "cover-50x75-tiny.jpg"))
	ids := map[string]bool{}
	for range 5 {
		ids[svc.process("DUP", u, "")] = true
	}
	for id := range ids {
		if j := svc.waitJob(id); j.State != "succeeded" {
			t.Errorf("job %s = %+v", id, j)
		}
	}
	if got := src.count("/b.jpg"); got != 1 {
		t.Errorf("5 posts fetched the origin %d times, want 1 (ids %v)", got, ids)
	}
}

// forbiddenListener is a loopback server NOT in SOURCE_ALLOW_PRIVATE_HOSTS
// that counts the connections it accepts: the SSRF filter must keep it at 0.
func forbiddenListener(t *testing.T) (net.Listener, *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return l, &n
}
