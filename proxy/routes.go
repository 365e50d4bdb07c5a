package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/VictoriaMetrics/metrics"
	"github.com/julienschmidt/httprouter"

	"github.com/bookcovers/image-worker/cache"
)

// Server holds the HTTP handlers and their metrics.
type Server struct {
	h   *handlers
	set *metrics.Set
}

// New returns the HTTP layer. It refuses an invalid Config and a missing
// required dependency (Deps names which are), and chooses here what a
// missing optional one means.
func New(cfg Config, d Deps) (*Server, error) {
	if err := errors.Join(cfg.Validate(), d.validate()); err != nil {
		return nil, err
	}
	d = d.withDefaults(cfg)
	set := metrics.NewSet()
	h := &handlers{cfg: cfg, d: d, log: d.Logger, set: set, deps: newDependencies(d.Checks, cfg.ReadyTimeout, set)}
	h.access = newAccessLog(d.Logger, d.LogOutput, set)
	h.cors = newCORSPolicy(cfg.AllowOrigins)
	h.metaRoute, h.v2Route = h.meta, h.processV2
	if d.Metas == nil {
		h.metaRoute = notServed("meta.json (no Deps.Metas)")
	}
	if d.Metas == nil || d.JobWaiter == nil {
		h.v2Route = notServed("POST /v2/process (no Deps.Metas or Deps.JobWaiter)")
	}
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
	r.POST("/v2/process", h.wrap("process_v2", h.writer(h.v2Route)))
	r.GET("/jobs/:job_id", h.wrap("jobs", h.job))
	coverOrMeta := h.withCORS(h.coverOrMeta())
	r.GET("/covers/:book_id/:file", coverOrMeta)
	r.HEAD("/covers/:book_id/:file", coverOrMeta)
	r.OPTIONS("/covers/:book_id/:file", h.wrap("preflight", h.preflight))
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
	r.POST("/v2/process", h.wrap("process_v2", h.writer(h.v2Route)))
	r.GET("/jobs/:job_id", h.wrap("jobs", h.job))
	r.DELETE("/covers/:book_id", h.wrap("purge", h.admin(h.purge)))
	r.GET("/metrics", metricsHandler(writeMetrics))
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
	cover, meta := h.wrap("covers", h.cover), h.wrap("meta", h.metaRoute)
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
