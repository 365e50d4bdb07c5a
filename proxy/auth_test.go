package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
)

const (
	testProcessToken  = "process-token-0123456789"
	testProcessToken2 = "process-token-rotated-abcdef"
	testAdminToken    = "admin-token-0123456789abcdef"
)

// authFixture is the HTTP layer with its write routes over hand-written
// fakes, a configurable Config and a JSON log captured in a buffer.
type authFixture struct {
	jobs     *metaJobs
	purged   []string
	public   http.Handler
	internal http.Handler
	log      *bytes.Buffer
	srv      *Server
}

func newAuthFixture(t *testing.T, mutate func(*Config)) *authFixture {
	t.Helper()
	cfg := DefaultConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	f := &authFixture{log: &bytes.Buffer{},
		jobs: &metaJobs{final: ingest.Job{ID: testJobID, BookID: "B123", State: ingest.JobSucceeded, Version: "3f9a1c2b7d4e"}}}
	meta := newMetaFixture(t, false, nil)
	srv, err := New(cfg, wired(Deps{Manifests: meta.manifests, Metas: meta.metas, Jobs: f.jobs, JobWaiter: f.jobs,
		Verifier: meta.signer, Signer: meta.signer, ProcessWait: 5 * time.Second,
		Logger: slog.New(slog.NewJSONHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Purge: func(_ context.Context, bookID string) (cache.PurgeResult, error) {
			f.purged = append(f.purged, bookID)
			return cache.PurgeResult{Deleted: 1}, nil
		}}))
	if err != nil {
		t.Fatal(err)
	}
	f.public, f.internal, f.srv = srv.Public(), srv.Internal(func(io.Writer) {}, nil), srv
	t.Cleanup(srv.Close)
	return f
}

func (f *authFixture) post(h http.Handler, path string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{"book_id":"B123","image_url":"https://images.example.com/b123.jpg"}`))
	r.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// checkAuthError checks a refusal: status, fixed code, WWW-Authenticate
// Bearer, no-store.
func checkAuthError(t *testing.T, what string, rec *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	var body errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); rec.Code != status || err != nil || body.Error.Code != code {
		t.Errorf("%s = %d %s, want %d with code %q", what, rec.Code, rec.Body, status, code)
	}
	if !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer ") {
		t.Errorf("%s: WWW-Authenticate = %q, want a Bearer challenge", what, rec.Header().Get("WWW-Authenticate"))
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("%s: Cache-Control = %q, want no-store", what, rec.Header().Get("Cache-Control"))
	}
}

// TestProcessWithoutTokensIsUnchanged: with PROCESS_TOKENS unset, POST
// /process takes no credentials and answers the frozen 202 body.
func TestProcessWithoutTokensIsUnchanged(t *testing.T) {
	f := newAuthFixture(t, nil)
	for name, h := range map[string]http.Handler{"public": f.public, "internal": f.internal} {
		for _, hdr := range []map[string]string{nil, {"Authorization": "Bearer anything-at-all-here"}} {
			rec := f.post(h, "/process", hdr)
			want := `{"message":"accepted","stub":false,"job_id":"` + testJobID + `"}`
			if rec.Code != http.StatusAccepted || rec.Body.String() != want || rec.Header().Get("WWW-Authenticate") != "" {
				t.Errorf("%s POST /process with %v = %d %s, want 202 %s", name, hdr, rec.Code, rec.Body, want)
			}
		}
	}
}

// TestProcessTokens: with PROCESS_TOKENS set, both write routes on both
// listeners answer 401 without a bearer token, 403 with a wrong one, and
// accept every listed token; a refused request submits nothing.
func TestProcessTokens(t *testing.T) {
	f := newAuthFixture(t, func(c *Config) { c.ProcessTokens = []string{testProcessToken, testProcessToken2} })
	cases := []struct {
		name   string
		hdr    map[string]string
		status int
		code   string
	}{
		{"no header", nil, 401, "unauthorized"},
		{"empty bearer", map[string]string{"Authorization": "Bearer "}, 401, "unauthorized"},
		{"token without scheme", map[string]string{"Authorization": testProcessToken}, 401, "unauthorized"},
		{"basic scheme", map[string]string{"Authorization": "Basic " + testProcessToken}, 401, "unauthorized"},
		{"wrong token", map[string]string{"Authorization": "Bearer wrong-token-0123456789"}, 403, "forbidden"},
		{"prefix of the token", map[string]string{"Authorization": "Bearer " + testProcessToken[:10]}, 403, "forbidden"},
		{"token plus suffix", map[string]string{"Authorization": "Bearer " + testProcessToken + "x"}, 403, "forbidden"},
		{"admin token", map[string]string{"Authorization": "Bearer " + testAdminToken}, 403, "forbidden"},
		{"first token", map[string]string{"Authorization": "Bearer " + testProcessToken}, 0, ""},
		{"second token", map[string]string{"Authorization": "Bearer " + testProcessToken2}, 0, ""},
		{"lowercase scheme", map[string]string{"Authorization": "bearer " + testProcessToken}, 0, ""},
	}
	routes := []struct {
		path string
		ok   int
	}{{"/process", http.StatusAccepted}, {"/v2/process", http.StatusOK}}
	for _, c := range cases {
		for name, h := range map[string]http.Handler{"public": f.public, "internal": f.internal} {
			for _, rt := range routes {
				t.Run(c.name+"/"+name+rt.path, func(t *testing.T) {
					before := len(f.jobs.submits)
					rec := f.post(h, rt.path, c.hdr)
					what := "POST " + rt.path + " on " + name + " with " + c.name
					if c.status == 0 {
						if rec.Code != rt.ok {
							t.Errorf("%s = %d %s, want %d", what, rec.Code, rec.Body, rt.ok)
						}
						return
					}
					checkAuthError(t, what, rec, c.status, c.code)
					if len(f.jobs.submits) != before {
						t.Errorf("%s submitted a job: %v", what, f.jobs.submits[before:])
					}
				})
			}
		}
	}
}

// TestPurgeNeedsAdminTokenOnBothListeners: DELETE /covers/{id} answers 401
// without a bearer token and 403 with a wrong one on the public and the
// internal listener, and with no ADMIN_TOKEN configured accepts nothing.
func TestPurgeNeedsAdminTokenOnBothListeners(t *testing.T) {
	for _, configured := range []bool{true, false} {
		f := newAuthFixture(t, func(c *Config) {
			c.ProcessTokens = []string{testProcessToken}
			if configured {
				c.AdminToken = testAdminToken
			}
		})
		for name, h := range map[string]http.Handler{"public": f.public, "internal": f.internal} {
			what := func(s string) string {
				return fmt.Sprintf("DELETE on %s %s (ADMIN_TOKEN set: %v)", name, s, configured)
			}
			checkAuthError(t, what("without a token"), serve(h, http.MethodDelete, "/covers/B123", nil), 401, "unauthorized")
			checkAuthError(t, what("with a wrong token"), serve(h, http.MethodDelete, "/covers/B123", map[string]string{"Authorization": "Bearer nope-nope-nope-nope"}), 403, "forbidden")
			checkAuthError(t, what("with the process token"), serve(h, http.MethodDelete, "/covers/B123", map[string]string{"Authorization": "Bearer " + testProcessToken}), 403, "forbidden")
			rec := serve(h, http.MethodDelete, "/covers/B123", map[string]string{"Authorization": "Bearer " + testAdminToken})
			if configured && rec.Code != http.StatusOK {
				t.Errorf("%s = %d %s, want 200", what("with the admin token"), rec.Code, rec.Body)
			}
			if !configured {
				checkAuthError(t, what("with a token"), rec, 403, "forbidden")
			}
		}
		want := 0
		if configured {
			want = 2 // one per listener
		}
		if len(f.purged) != want {
			t.Errorf("ADMIN_TOKEN set %v: purged %v, want %d purges (only the ones with the admin token)", configured, f.purged, want)
		}
	}
}

// TestTokensAndSignaturesNeverLogged: whatever a request carries in its
// Authorization header or signature, no log line (access log, error log)
// contains it, refused or accepted.
func TestTokensAndSignaturesNeverLogged(t *testing.T) {
	f := newAuthFixture(t, func(c *Config) {
		c.ProcessTokens = []string{testProcessToken}
		c.AdminToken = testAdminToken
	})
	const wrong, sig = "wrong-but-secret-0123456789", "c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtbGVhaw"
	for _, h := range []http.Handler{f.public, f.internal} {
		for _, tok := range []string{testProcessToken, wrong, testAdminToken} {
			f.post(h, "/process", map[string]string{"Authorization": "Bearer " + tok})
			f.post(h, "/v2/process", map[string]string{"Authorization": "Bearer " + tok})
			serve(h, http.MethodDelete, "/covers/B123", map[string]string{"Authorization": "Bearer " + tok})
		}
	}
	serve(f.public, http.MethodGet, "/covers/B123/320.webp?sig="+sig, map[string]string{"Authorization": "Bearer " + wrong})
	serve(f.public, http.MethodGet, "/covers/B123/meta.json?exp=1&sig="+sig, nil)
	if err := f.srv.FlushAccessLog(t.Context()); err != nil {
		t.Fatal(err)
	}
	logs := f.log.String()
	if !strings.Contains(logs, `"status":403`) || !strings.Contains(logs, `"status":202`) {
		t.Fatalf("log %q: want the requests' access lines", logs)
	}
	for _, secret := range []string{testProcessToken, wrong, testAdminToken, sig} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains %q:\n%s", secret, logs)
		}
	}
}

func TestProcessTokensConfig(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    int
		wantErr bool
	}{
		{"unset", "", 0, false},
		{"one", testProcessToken, 1, false},
		{"two with blanks", " " + testProcessToken + " ,, " + testProcessToken2 + ",", 2, false},
		{"base64 alphabet and padding", "abcDEF0123456789-._~+/==", 1, false},
		{"too short", "tiny1", 1, true},
		{"space inside", "REPLACE ME with openssl rand -hex 32", 1, true},
		{"quote", `token-0123456789"abc`, 1, true},
		{"only padding", "================", 1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.ProcessTokens = ParseTokens(c.in)
			err := cfg.Validate()
			if len(cfg.ProcessTokens) != c.want || (err != nil) != c.wantErr {
				t.Errorf("ParseTokens(%q) = %d tokens, Validate() = %v; want %d tokens, error %v", c.in, len(cfg.ProcessTokens), err, c.want, c.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), strings.TrimSpace(c.in)) {
				t.Errorf("Validate() = %q names the token", err)
			}
		})
	}
}

// testContent is a content key: the SHA-256 of "cover".
var testContent = cover.ContentSum([]byte("cover"))

func TestCheckVariantKey(t *testing.T) {
	cfg := DefaultConfig()
	cases := []struct {
		name string
		key  cover.VariantKey
		ok   bool
	}{
		{"width", cover.VariantKey{BookID: "B123", Version: "3f9a1c2b7d4e", Width: 320, Format: "webp"}, true},
		{"box", cover.VariantKey{BookID: "B123", Version: "3f9a1c2b7d4e", Width: 200, Height: 300, Format: "avif"}, true},
		{"largest", cover.VariantKey{BookID: "B123", Version: "v", Width: 2048, Height: 2048, Format: "webp"}, true},
		{"fit box in jpg", cover.VariantKey{BookID: "B123", Version: "v", Width: 600, Height: 315, Fit: true, Format: "jpg"}, true},
		{"fit without a box", cover.VariantKey{BookID: "B123", Version: "v", Width: 600, Fit: true, Format: "webp"}, false},
		{"fit height over the cap", cover.VariantKey{BookID: "B123", Version: "v", Width: 320, Height: 2049, Fit: true, Format: "webp"}, false},
		{"width over the cap", cover.VariantKey{BookID: "B123", Version: "v", Width: 4096, Format: "webp"}, false},
		{"height over the cap", cover.VariantKey{BookID: "B123", Version: "v", Width: 320, Height: 2049, Format: "webp"}, false},
		{"below the minimum", cover.VariantKey{BookID: "B123", Version: "v", Width: 15, Format: "webp"}, false},
		{"bad book id", cover.VariantKey{BookID: ".B123", Version: "v", Width: 320, Format: "webp"}, false},
		{"unknown format", cover.VariantKey{BookID: "B123", Version: "v", Width: 320, Format: "png"}, false},
		{"format not canonical", cover.VariantKey{BookID: "B123", Version: "v", Width: 320, Format: "WEBP"}, false},
		{"empty version", cover.VariantKey{BookID: "B123", Width: 320, Format: "webp"}, false},
		{"version with a dot", cover.VariantKey{BookID: "B123", Version: "a.b", Width: 320, Format: "webp"}, false},
		{"version too long", cover.VariantKey{BookID: "B123", Version: strings.Repeat("a", maxVersionLength+1), Width: 320, Format: "webp"}, false},
		// Content keys: no book, a content hash, a trim box inside an original.
		{"content", cover.VariantKey{Content: testContent, Width: 320, Format: "webp"}, true},
		{"content with a trim box", cover.VariantKey{Content: testContent, Trim: cover.Rect{Left: 10, Top: 20, Width: 300, Height: 450}, Width: 200, Height: 300, Fit: true, Format: "jpg"}, true},
		{"content over the cap", cover.VariantKey{Content: testContent, Width: 4096, Format: "webp"}, false},
		{"content not a hash", cover.VariantKey{Content: "3f9a1c2b7d4e", Width: 320, Format: "webp"}, false},
		{"content in capitals", cover.VariantKey{Content: strings.ToUpper(testContent), Width: 320, Format: "webp"}, false},
		{"trim box past any original", cover.VariantKey{Content: testContent, Trim: cover.Rect{Left: 65535, Top: 0, Width: 10, Height: 10}, Width: 320, Format: "webp"}, false},
		{"trim box with a negative edge", cover.VariantKey{Content: testContent, Trim: cover.Rect{Left: -1, Top: 0, Width: 10, Height: 10}, Width: 320, Format: "webp"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := cfg.CheckVariantKey(c.key); (err == nil) != c.ok {
				t.Errorf("CheckVariantKey(%+v) = %v, want ok=%v", c.key, err, c.ok)
			}
		})
	}
	small := DefaultConfig()
	small.MaxDimension = 1024
	small.Sizes = map[string]cover.Size{"thumb": {Width: 96}}
	if err := small.CheckVariantKey(cover.VariantKey{BookID: "B1", Version: "v", Width: 1280, Format: "webp"}); err == nil {
		t.Error("MAX_COVER_DIMENSION=1024: CheckVariantKey accepted width 1280")
	}
}
