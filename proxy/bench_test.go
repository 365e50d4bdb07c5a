package proxy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/signing"
	"github.com/golang/groupcache"
)

// benchGroupSeq keeps groupcache group names unique within the test binary.
var benchGroupSeq atomic.Int64

// benchBody stands for a cached 320-wide WebP (about 12 KB).
var benchBody = func() []byte {
	b := make([]byte, 12<<10)
	copy(b, "RIFF\x00\x30\x00\x00WEBPVP8 ")
	for i := 16; i < len(b); i++ {
		b[i] = byte(i * 31)
	}
	return b
}()

// hitBench is the real hit path: router, middleware, parsing, signature,
// manifest cache, groupcache and headers, on an embedded local store.
type hitBench struct {
	handler http.Handler
	signer  *signing.Signer
	version string
	renders atomic.Int64
}

// logOut is Deps.LogOutput (nil: access lines go through logger).
func newHitBench(tb testing.TB, logger *slog.Logger, logOut io.Writer, mutate func(*Config)) *hitBench {
	tb.Helper()
	store, err := cache.NewLocalStore(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	hb := &hitBench{version: "3f9a1c2b7d4e"}
	vcfg := cache.DefaultVariantsConfig()
	vcfg.GroupName = fmt.Sprintf("proxy-bench-%d", benchGroupSeq.Add(1))
	fill := func(context.Context, cover.VariantKey) ([]byte, error) {
		hb.renders.Add(1)
		return benchBody, nil
	}
	variants, err := cache.NewVariants(vcfg, store, fill, logger)
	if err != nil {
		tb.Fatal(err)
	}
	if err := variants.Use(groupcache.NewGroup(vcfg.GroupName, variants.GroupBytes(), variants.Getter())); err != nil {
		tb.Fatal(err)
	}
	// Before TempDir's own cleanup (cleanups run last first): a variant
	// written behind its response must land before the directory goes.
	tb.Cleanup(func() { _ = variants.Flush(context.Background()) })
	manifests := cache.NewManifests(store, time.Hour, time.Second)
	// Stored by content, as every cover warmed since content keys.
	if err := manifests.Put(context.Background(), cover.Manifest{BookID: "B123", Version: hb.version,
		Content: hb.version + "91d0a6e5c2f8b4d7a13e0c9f6b2a85d1e4c7f3a9b06d2e8c5f17", ContentType: "image/jpeg", Width: 1600, Height: 2400, UpdatedAt: time.Unix(1_790_000_000, 0)}); err != nil {
		tb.Fatal(err)
	}
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	hb.signer, err = signing.New(signing.Config{Keys: [][]byte{key}})
	if err != nil {
		tb.Fatal(err)
	}
	cfg := DefaultConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg, wired(Deps{Manifests: manifests, Variants: variants, Verifier: hb.signer, Logger: logger, LogOutput: logOut}))
	if err != nil {
		tb.Fatal(err)
	}
	hb.handler = srv.Public()
	return hb
}

// request builds a signed request for pathAndQuery.
func (hb *hitBench) request(tb testing.TB, method, pathAndQuery string, hdr map[string]string) *http.Request {
	tb.Helper()
	u, err := hb.signer.SignedURL(pathAndQuery)
	if err != nil {
		tb.Fatal(err)
	}
	r := httptest.NewRequest(method, u, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	return r
}

// discardWriter is a ResponseWriter that keeps only what the benchmark
// checks, so the allocations reported are the handler's own.
type discardWriter struct {
	hdr    http.Header
	status int
	n      int
}

func (d *discardWriter) Header() http.Header { return d.hdr }
func (d *discardWriter) WriteHeader(code int) {
	if d.status == 0 {
		d.status = code
	}
}

func (d *discardWriter) Write(b []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	d.n += len(b)
	return len(b), nil
}

func (d *discardWriter) reset() {
	clear(d.hdr)
	d.status, d.n = 0, 0
}

// BenchmarkCoverHit serves one cached variant through the whole handler.
// The allocations reported are what the service adds to net/http's own.
func BenchmarkCoverHit(b *testing.B) {
	jsonLog := slog.New(slog.NewJSONHandler(io.Discard, nil))
	discard := slog.New(slog.DiscardHandler)
	cases := []struct {
		name       string
		logger     *slog.Logger
		logOut     io.Writer
		mutate     func(*Config)
		method     string
		path       string
		hdr        map[string]string
		wantStatus int
		wantBytes  int
	}{
		{"unversioned", discard, nil, nil, http.MethodGet, "/covers/B123/320.webp", nil, 200, len(benchBody)},
		{"versioned", discard, nil, nil, http.MethodGet, "/covers/B123/medium.webp?v=3f9a1c2b7d4e", nil, 200, len(benchBody)},
		{"expiring", discard, nil, nil, http.MethodGet, "/covers/B123/320.webp?exp=4102444800", nil, 200, len(benchBody)},
		{"head", discard, nil, nil, http.MethodHead, "/covers/B123/320.webp", nil, 200, 0},
		{"if_none_match", discard, nil, nil, http.MethodGet, "/covers/B123/320.webp", map[string]string{"If-None-Match": "*"}, 304, 0},
		{"access_log_json", jsonLog, io.Discard, nil, http.MethodGet, "/covers/B123/320.webp", nil, 200, len(benchBody)},
		{"access_log_slog", jsonLog, nil, nil, http.MethodGet, "/covers/B123/320.webp", nil, 200, len(benchBody)},
		{"access_log_off", jsonLog, io.Discard, func(c *Config) { c.AccessLog = false }, http.MethodGet, "/covers/B123/320.webp", nil, 200, len(benchBody)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			hb := newHitBench(b, c.logger, c.logOut, c.mutate)
			r := hb.request(b, c.method, c.path, c.hdr)
			w := &discardWriter{hdr: http.Header{}}
			hb.handler.ServeHTTP(w, r) // fills the cache
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				w.reset()
				hb.handler.ServeHTTP(w, r)
			}
			b.StopTimer()
			if w.status != c.wantStatus || w.n != c.wantBytes || hb.renders.Load() != 1 {
				b.Fatalf("%s %s = %d with %d bytes after %d renders, want %d with %d bytes after 1 render",
					c.method, c.path, w.status, w.n, hb.renders.Load(), c.wantStatus, c.wantBytes)
			}
		})
	}
}

// BenchmarkBareHandler is the floor BenchmarkCoverHit is compared with: the
// same bytes and headers from a plain handler, constant headers prebuilt.
func BenchmarkBareHandler(b *testing.B) {
	hdr := http.Header{
		"Content-Type":           {"image/webp"},
		"Content-Length":         {strconv.Itoa(len(benchBody))},
		"Cache-Control":          {"public, max-age=86400, stale-while-revalidate=3600"},
		"Etag":                   {`"0123456789abcdef"`},
		"Last-Modified":          {"Mon, 21 Sep 2026 12:26:40 GMT"},
		"X-Content-Type-Options": {"nosniff"},
		"Surrogate-Key":          {"book-B123"},
		"Cache-Tag":              {"book-B123"},
		"X-Request-Id":           {"0123456789abcdef"},
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		wh := w.Header()
		for k, v := range hdr {
			wh[k] = v
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(benchBody)
	})
	r := httptest.NewRequest(http.MethodGet, "/covers/B123/320.webp?sig=x", nil)
	w := &discardWriter{hdr: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, r)
	}
	if w.status != 200 || w.n != len(benchBody) {
		b.Fatalf("bare handler = %d with %d bytes", w.status, w.n)
	}
}

// BenchmarkCoverHitParallel runs the hit path on every P at once, to show
// contention (locks in metrics, the manifest cache, groupcache).
func BenchmarkCoverHitParallel(b *testing.B) {
	hb := newHitBench(b, slog.New(slog.DiscardHandler), nil, nil)
	r := hb.request(b, http.MethodGet, "/covers/B123/320.webp", nil)
	hb.handler.ServeHTTP(&discardWriter{hdr: http.Header{}}, r)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{hdr: http.Header{}}
		for pb.Next() {
			w.reset()
			hb.handler.ServeHTTP(w, r)
			if w.status != 200 {
				b.Errorf("status %d", w.status)
				return
			}
		}
	})
}

// BenchmarkParseCover measures path and query parsing of a cover request.
func BenchmarkParseCover(b *testing.B) {
	c := DefaultConfig()
	cases := []struct{ name, file, query string }{
		{"width", "320.webp", "sig=3di8I4wzDtKUps9VDNsv46TSSq-g9O1vNohL1AznlSM"},
		{"preset_versioned", "medium.avif", "v=3f9a1c2b7d4e&sig=DFFSkeh6rroqt9wYwVckCHLZwgjg2DtmoR8vTHgukGA"},
		{"box_exp_versioned", "320x480.webp", "exp=1893456000&v=3f9a1c2b7d4e&sig=BOtkfzNf-KHKp-fbS75IiQOW4EahyFKi8hJjWbFEBKk"},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.parseCover("B123", tc.file, tc.query); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
