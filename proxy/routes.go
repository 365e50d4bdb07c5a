package proxy

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"net/url"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/julienschmidt/httprouter"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
)

// ManifestSource resolves a book's current version.
type ManifestSource interface {
	Current(ctx context.Context, bookID string) (cover.Manifest, error)
}

// VariantSource returns a variant's bytes, rendering it on a miss.
type VariantSource interface {
	Get(ctx context.Context, key cover.VariantKey) ([]byte, error)
}

// JobQueue takes warm jobs.
type JobQueue interface {
	Submit(ctx context.Context, bookID, imageURL string, refresh bool) (ingest.Job, error)
	Get(ctx context.Context, id string) (ingest.Job, error)
}

// Verifier checks URL signatures.
type Verifier interface {
	Verify(path string, params url.Values, sig string) error
	Disabled() bool
}

// Pinger reports whether a dependency is reachable.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are the components the HTTP layer calls.
type Deps struct {
	Manifests    ManifestSource
	Variants     VariantSource
	Placeholders PlaceholderSource // placeholder.go
	Jobs         JobQueue
	Verifier     Verifier
	Checks       []Check // readiness: every dependency that must answer
	Purge        func(ctx context.Context, bookID string) (cache.PurgeResult, error)
	Draining     func() bool // true once shutdown began: /ready answers 503 first
	Logger       *slog.Logger
	// LogOutput is the stream Logger writes to (a JSON handler without
	// attributes of its own): access lines are built and written to it
	// directly, in batches. Nil sends them through Logger one at a time.
	LogOutput io.Writer

	// Metadata (GET /covers/{book_id}/meta.json, POST /v2/process).
	Metas       MetaSource
	Signer      URLSigner     // signs the cover paths in metadata answers
	JobWaiter   JobWaiter     // POST /v2/process waits for its job
	ProcessWait time.Duration // longest wait of POST /v2/process: the job's own budget (RequestTimeout when 0)
}

// Check is one readiness dependency.
type Check struct {
	Name string // "object_store", "kafka", ...
	Pinger
}

// Server holds the HTTP handlers and their metrics.
type Server struct {
	h   *handlers
	set *metrics.Set
}

// New returns the HTTP layer.
func New(cfg Config, d Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	set := metrics.NewSet()
	h := &handlers{cfg: cfg, d: d, log: d.Logger, set: set, deps: newDependencies(d.Checks, cfg.ReadyTimeout, set)}
	h.access = newAccessLog(d.Logger, d.LogOutput, set)
	return &Server{h: h, set: set}, nil
}

// FlushAccessLog writes every access line queued so far (tests, shutdown).
func (s *Server) FlushAccessLog(ctx context.Context) error { return s.h.access.Flush(ctx) }

// Close writes the queued access lines and stops their writer; call it
// once the listeners have drained.
func (s *Server) Close() { s.h.access.Close() }

// Metrics returns the HTTP metrics.
func (s *Server) Metrics() *metrics.Set { return s.set }

// Public is the route table of the public listener (what the CDN reaches).
func (s *Server) Public() http.Handler {
	h := s.h
	r := newRouter(h)
	r.GET("/health", h.wrap("health", h.health))
	r.GET("/ready", h.wrap("ready", h.ready))
	r.POST("/process", h.wrap("process", h.writer(h.process)))
	r.POST("/v2/process", h.wrap("process_v2", h.writer(h.processV2)))
	r.GET("/jobs/:job_id", h.wrap("jobs", h.job))
	coverOrMeta := h.coverOrMeta()
	r.GET("/covers/:book_id/:file", coverOrMeta)
	r.HEAD("/covers/:book_id/:file", coverOrMeta)
	r.DELETE("/covers/:book_id", h.wrap("purge", h.admin(h.purge)))
	return r
}

// Internal is the route table of the internal listener: health, readiness,
// metrics and the groupcache peer protocol. It must never face the CDN.
// Writes need the same tokens as on the public listener: the internal port
// is reachable by every peer and the metrics scraper, so it is no boundary
// of its own.
func (s *Server) Internal(writeMetrics func(io.Writer), peers http.Handler) http.Handler {
	h := s.h
	r := newRouter(h)
	r.GET("/health", h.wrap("health", h.health))
	r.GET("/ready", h.wrap("ready", h.ready))
	r.POST("/process", h.wrap("process", h.writer(h.process)))
	r.POST("/v2/process", h.wrap("process_v2", h.writer(h.processV2)))
	r.GET("/jobs/:job_id", h.wrap("jobs", h.job))
	r.DELETE("/covers/:book_id", h.wrap("purge", h.admin(h.purge)))
	r.GET("/metrics", func(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		writeMetrics(w)
	})
	if peers != nil {
		r.Handler(http.MethodGet, cache.PeerBasePath+"*key", peers)
	}
	if h.cfg.Pprof {
		r.HandlerFunc(http.MethodGet, "/debug/pprof/*name", pprofHandler)
	}
	return r
}

// coverOrMeta serves /covers/{book_id}/{file}: meta.json is the book's
// metadata, anything else a cover image.
func (h *handlers) coverOrMeta() httprouter.Handle {
	cover, meta := h.wrap("covers", h.cover), h.wrap("meta", h.meta)
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		if ps.ByName("file") == metaFile {
			meta(w, r, ps)
			return
		}
		cover(w, r, ps)
	}
}

func newRouter(h *handlers) *httprouter.Router {
	r := httprouter.New()
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleOPTIONS = false
	r.NotFound = plain(h.wrap("not_found", notFound))
	r.MethodNotAllowed = plain(h.wrap("not_allowed", func(http.ResponseWriter, *http.Request, httprouter.Params) error {
		return errMethod
	}))
	r.PanicHandler = nil // recovery happens in wrap, so the access log and metrics still see the request
	return r
}

// pprofHandler serves net/http/pprof (PPROF=true, internal listener only).
func pprofHandler(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, "/debug/pprof/") {
	case "cmdline":
		pprof.Cmdline(w, r)
	case "profile":
		pprof.Profile(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "trace":
		pprof.Trace(w, r)
	default:
		pprof.Index(w, r)
	}
}
