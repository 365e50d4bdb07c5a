package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
	"github.com/bookcovers/image-worker/signing"
	"github.com/bookcovers/image-worker/transform"
)

// metaManifests is a hand-written ManifestSource that counts lookups.
type metaManifests struct {
	calls atomic.Int64
	books map[string]cover.Manifest
}

func (s *metaManifests) Current(_ context.Context, bookID string) (cover.Manifest, error) {
	s.calls.Add(1)
	if m, ok := s.books[bookID]; ok {
		return m, nil
	}
	return cover.Manifest{}, fmt.Errorf("manifest %s: %w", bookID, cache.ErrNotFound)
}

// metaSource is a hand-written MetaSource that counts calls.
type metaSource struct {
	calls atomic.Int64
	err   error
}

var testPreview = cache.Preview{DominantColor: "#7a5c3e", BlurHash: "T~LrbSoyfQ~XoMfQs;fQfQEKayfQ", LQIP: "data:image/webp;base64,UklGRg=="}

func (s *metaSource) Get(_ context.Context, m cover.Manifest) (cache.CoverMeta, error) {
	s.calls.Add(1)
	if s.err != nil {
		return cache.CoverMeta{}, fmt.Errorf("meta: %w", s.err)
	}
	return cache.NewCoverMeta(m, testPreview), nil
}

// metaJobs is a hand-written JobQueue and JobWaiter: Submit records the
// call, Wait blocks on hold (when set) and then reports final.
type metaJobs struct {
	mu        sync.Mutex
	submits   []string
	submitErr error
	final     ingest.Job
	hold      chan struct{}
}

const testJobID = "0123456789abcdef0123456789abcdef"

func (j *metaJobs) Submit(_ context.Context, bookID, imageURL string, refresh bool) (ingest.Job, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.submits = append(j.submits, fmt.Sprintf("%s %s refresh=%t", bookID, imageURL, refresh))
	if j.submitErr != nil {
		return ingest.Job{}, fmt.Errorf("submit: %w", j.submitErr)
	}
	return ingest.Job{ID: testJobID, BookID: bookID, State: ingest.JobQueued}, nil
}

func (j *metaJobs) Get(context.Context, string) (ingest.Job, error) { return j.final, nil }

func (j *metaJobs) Wait(ctx context.Context, id string) (ingest.Job, error) {
	if j.hold != nil {
		select {
		case <-j.hold:
		case <-ctx.Done():
			return ingest.Job{ID: id, State: ingest.JobRunning}, ctx.Err()
		}
	}
	return j.final, nil
}

// metaFixture is the HTTP layer over hand-written fakes and a real signer
// with the README's test key.
type metaFixture struct {
	manifests *metaManifests
	metas     *metaSource
	jobs      *metaJobs
	signer    *signing.Signer
	public    http.Handler
	internal  http.Handler
	updated   time.Time
}

func newMetaFixture(t *testing.T, disabled bool, mutate func(*Deps)) *metaFixture {
	t.Helper()
	return newMetaFixtureConfig(t, DefaultConfig(), disabled, mutate)
}

// newMetaFixtureConfig is newMetaFixture with the HTTP layer's Config.
func newMetaFixtureConfig(t *testing.T, cfg Config, disabled bool, mutate func(*Deps)) *metaFixture {
	t.Helper()
	signer := readmeSigner(t, disabled)
	f := &metaFixture{
		updated: time.Unix(1_790_000_000, 0).UTC(),
		metas:   &metaSource{},
		signer:  signer,
		jobs:    &metaJobs{final: ingest.Job{ID: testJobID, BookID: "B123", State: ingest.JobSucceeded, Version: "3f9a1c2b7d4e"}},
	}
	f.manifests = &metaManifests{books: map[string]cover.Manifest{"B123": {
		BookID: "B123", Version: "3f9a1c2b7d4e", SourceURL: "https://images.example.com/b123.jpg",
		ContentType: "image/jpeg", Width: 1600, Height: 2400, Bytes: 362325, UpdatedAt: f.updated}}}
	d := Deps{Manifests: f.manifests, Metas: f.metas, Jobs: f.jobs, JobWaiter: f.jobs, Verifier: signer, Signer: signer,
		Logger: slog.New(slog.DiscardHandler), ProcessWait: 5 * time.Second}
	if mutate != nil {
		mutate(&d)
	}
	srv, err := New(cfg, wired(d))
	if err != nil {
		t.Fatal(err)
	}
	f.public = srv.Public()
	f.internal = srv.Internal(func(io.Writer) {}, nil)
	return f
}

func (f *metaFixture) sign(t *testing.T, pathAndQuery string) string {
	t.Helper()
	u, err := f.signer.SignedURL(pathAndQuery)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func serve(h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// metaBody is what a client reads from meta.json or /v2/process.
type metaBody struct {
	JobID         *string `json:"job_id"`
	BookID        string  `json:"book_id"`
	Version       string  `json:"version"`
	SourceURL     string  `json:"source_url"`
	Width         int     `json:"width"`
	Height        int     `json:"height"`
	Format        string  `json:"format"`
	Bytes         int64   `json:"bytes"`
	DominantColor string  `json:"dominant_color"`
	BlurHash      string  `json:"blurhash"`
	LQIP          string  `json:"lqip"`
	Covers        map[string]map[string]string
}

// checkMetaBody checks every field and that each cover path verifies with
// the signer (or is unsigned when signing is off) and carries v.
func checkMetaBody(t *testing.T, f *metaFixture, raw []byte, wantJob bool) metaBody {
	t.Helper()
	var b metaBody
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatalf("body %s: %v", raw, err)
	}
	if (b.JobID != nil) != wantJob || wantJob && *b.JobID != testJobID {
		t.Errorf("job_id = %v, want present: %v", b.JobID, wantJob)
	}
	want := metaBody{BookID: "B123", Version: "3f9a1c2b7d4e", SourceURL: "https://images.example.com/b123.jpg", Width: 1600, Height: 2400,
		Format: "jpeg", Bytes: 362325, DominantColor: testPreview.DominantColor, BlurHash: testPreview.BlurHash, LQIP: testPreview.LQIP}
	got := b
	got.JobID, got.Covers = nil, nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("fields = %+v, want %+v", got, want)
	}
	if len(b.Covers) != len(DefaultConfig().Sizes) {
		t.Errorf("covers has %d presets, want %d: %v", len(b.Covers), len(DefaultConfig().Sizes), b.Covers)
	}
	for preset := range DefaultConfig().Sizes {
		for _, format := range []string{"webp", "avif"} {
			p := b.Covers[preset][format]
			u, err := url.Parse(p)
			if err != nil || u.Path != "/covers/B123/"+preset+"."+format || u.Query().Get("v") != "3f9a1c2b7d4e" {
				t.Errorf("covers[%s][%s] = %q, want /covers/B123/%s.%s?v=3f9a1c2b7d4e...", preset, format, p, preset, format)
				continue
			}
			q := u.Query()
			sig := q.Get("sig")
			q.Del("sig")
			if f.signer.Disabled() {
				if sig != "" {
					t.Errorf("covers[%s][%s] = %q is signed with signing disabled", preset, format, p)
				}
			} else if err := f.signer.Verify(u.Path, q, sig); err != nil {
				t.Errorf("covers[%s][%s] = %q does not verify: %v", preset, format, p, err)
			}
		}
	}
	return b
}

func TestMetaJSON(t *testing.T) {
	t.Parallel()
	f := newMetaFixture(t, false, nil)
	rec := serve(f.public, http.MethodGet, f.sign(t, "/covers/B123/meta.json?v=3f9a1c2b7d4e"), nil)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET meta.json = %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	checkMetaBody(t, f, rec.Body.Bytes(), false)
	hd := rec.Header()
	for name, want := range map[string]string{
		"Cache-Control": "public, max-age=31536000, immutable", "Surrogate-Key": "book-B123", "Cache-Tag": "book-B123",
		"X-Content-Type-Options": "nosniff", "Last-Modified": f.updated.Format(http.TimeFormat),
		"Content-Length": strconv.Itoa(rec.Body.Len()),
	} {
		if hd.Get(name) != want {
			t.Errorf("%s = %q, want %q", name, hd.Get(name), want)
		}
	}
	etag := hd.Get("ETag")
	if !strings.HasPrefix(etag, `"`) {
		t.Fatalf("ETag = %q, want a strong validator", etag)
	}
	again := serve(f.public, http.MethodGet, f.sign(t, "/covers/B123/meta.json?v=3f9a1c2b7d4e"), nil)
	if again.Header().Get("ETag") != etag {
		t.Errorf("ETag changed between identical requests: %q then %q", etag, again.Header().Get("ETag"))
	}
	rec = serve(f.public, http.MethodGet, f.sign(t, "/covers/B123/meta.json?v=3f9a1c2b7d4e"), map[string]string{"If-None-Match": etag})
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("If-None-Match = %d with %d bytes, want 304 without a body", rec.Code, rec.Body.Len())
	}
	rec = serve(f.public, http.MethodHead, f.sign(t, "/covers/B123/meta.json"), nil)
	if rec.Code != 200 || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") == "" || rec.Header().Get("ETag") != etag {
		t.Errorf("HEAD = %d, %d body bytes, length %q, ETag %q; want 200, none, set, %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"), rec.Header().Get("ETag"), etag)
	}
}

func TestMetaJSONCacheControl(t *testing.T) {
	t.Parallel()
	f := newMetaFixture(t, false, nil)
	exp := time.Now().Add(100 * time.Second).Unix()
	cases := []struct {
		name, query, want string
	}{
		{"current v", "?v=3f9a1c2b7d4e", "public, max-age=31536000, immutable"},
		{"no v", "", "public, max-age=86400, stale-while-revalidate=3600"},
		{"old v", "?v=000000000000", "public, max-age=86400, stale-while-revalidate=3600"},
		{"exp caps max-age", fmt.Sprintf("?exp=%d&v=3f9a1c2b7d4e", exp), "public, max-age=~100"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := serve(f.public, http.MethodGet, f.sign(t, "/covers/B123/meta.json"+c.query), nil)
			got := rec.Header().Get("Cache-Control")
			ok := got == c.want
			if rest, approx := strings.CutPrefix(c.want, "public, max-age=~"); approx {
				want, _ := strconv.Atoi(rest)
				n, err := strconv.Atoi(strings.TrimPrefix(got, "public, max-age="))
				ok = err == nil && n <= want && n >= want-5
			}
			if rec.Code != 200 || !ok {
				t.Errorf("GET meta.json%s = %d, Cache-Control %q, want %q", c.query, rec.Code, got, c.want)
			}
		})
	}
}

func TestMetaJSONRefusals(t *testing.T) {
	t.Parallel()
	past := strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)
	cases := []struct {
		name, target string
		sign         bool
		status       int
		code         string
		looksUp      bool // the manifest may be read
	}{
		{"unsigned", "/covers/B123/meta.json", false, 403, "missing_signature", false},
		{"bad signature", "/covers/B123/meta.json?sig=" + strings.Repeat("A", 43), false, 403, "bad_signature", false},
		{"signature of another path", "", false, 403, "bad_signature", false},
		{"expired", "/covers/B123/meta.json?exp=" + past, true, 410, "expired", false},
		{"unknown parameter", "/covers/B123/meta.json?w=1", true, 400, "bad_query", false},
		{"bad book id", "/covers/.B123/meta.json", true, 400, "invalid_book_id", false},
		{"book without a cover", "/covers/B999/meta.json", true, 404, "no_cover", true},
		{"meta under another name is a cover", "/covers/B123/meta.webp", true, 400, "bad_size", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newMetaFixture(t, false, nil)
			target := c.target
			if c.sign {
				target = f.sign(t, target)
			}
			if target == "" {
				s := f.sign(t, "/covers/B123/medium.webp")
				target = "/covers/B123/meta.json?" + strings.SplitN(s, "?", 2)[1]
			}
			rec := serve(f.public, http.MethodGet, target, nil)
			var e errorBody
			_ = json.Unmarshal(rec.Body.Bytes(), &e)
			if rec.Code != c.status || e.Error.Code != c.code || rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("GET %s = %d %q (%s), want %d %q no-store", target, rec.Code, e.Error.Code, rec.Header().Get("Cache-Control"), c.status, c.code)
			}
			if n := f.manifests.calls.Load(); !c.looksUp && n != 0 {
				t.Errorf("GET %s looked the manifest up %d times before refusing", target, n)
			}
			if n := f.metas.calls.Load(); n != 0 {
				t.Errorf("GET %s computed metadata %d times, want 0", target, n)
			}
		})
	}
}

func TestMetaJSONSigningDisabledAndFailures(t *testing.T) {
	t.Parallel()
	f := newMetaFixture(t, true, nil)
	rec := serve(f.public, http.MethodGet, "/covers/B123/meta.json", nil)
	if rec.Code != 200 {
		t.Fatalf("unsigned meta.json with signing disabled = %d %s", rec.Code, rec.Body)
	}
	checkMetaBody(t, f, rec.Body.Bytes(), false)

	f = newMetaFixture(t, false, nil)
	f.metas.err = transform.ErrOverloaded
	rec = serve(f.public, http.MethodGet, f.sign(t, "/covers/B123/meta.json"), nil)
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || rec.Header().Get("ETag") != "" {
		t.Errorf("meta.json with the render gate full = %d, Retry-After %q, ETag %q; want 503 with Retry-After and no ETag",
			rec.Code, rec.Header().Get("Retry-After"), rec.Header().Get("ETag"))
	}
	f = newMetaFixture(t, false, func(d *Deps) { d.Metas = nil })
	if rec := serve(f.public, http.MethodGet, f.sign(t, "/covers/B123/meta.json"), nil); rec.Code != 404 {
		t.Errorf("meta.json without a metadata source = %d, want 404", rec.Code)
	}
}
