package proxy

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/julienschmidt/httprouter"
)

type handlers struct {
	cfg    Config
	d      Deps
	log    *slog.Logger
	set    *metrics.Set
	deps   *dependencies
	access *accessLog // nil: access lines are written by the request itself
	cors   corsPolicy // Config.AllowOrigins

	// metaRoute and v2Route serve meta.json and POST /v2/process, or answer
	// that they are not served (New: without their optional dependencies).
	metaRoute, v2Route handlerFunc

	constOnce sync.Once
	consts    headerConsts
	lastMod   lastModified
}

// handlerFunc is a handler that returns its error; wrap maps it.
type handlerFunc func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error

type ridKey struct{}

// requestContext carries the request id and the request's deadline. The
// deadline's timer is armed only when something asks for Done or Err: a
// cache hit never waits on anything, so it never pays for a timer (arming
// and stopping one is a visible share of a hit at tens of thousands of
// requests per second). One allocation where WithValue plus WithTimeout
// take four.
type requestContext struct {
	parent   context.Context
	id       string
	deadline time.Time

	mu     sync.Mutex
	armed  context.Context // the real deadline context, once armed
	cancel context.CancelFunc
	done   bool // release ran: arming now gives an ended context
}

func newRequestContext(parent context.Context, id string, timeout time.Duration) *requestContext {
	c := &requestContext{parent: parent, id: id, deadline: time.Now().Add(timeout)}
	if d, ok := parent.Deadline(); ok && d.Before(c.deadline) {
		c.deadline = d
	}
	return c
}

func (c *requestContext) arm() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.armed == nil {
		c.armed, c.cancel = context.WithDeadline(c.parent, c.deadline)
		if c.done {
			c.cancel()
		}
	}
	return c.armed
}

// release ends the context (the handler returned).
func (c *requestContext) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done = true
	if c.cancel != nil {
		c.cancel()
	}
}

func (c *requestContext) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *requestContext) Done() <-chan struct{}       { return c.arm().Done() }
func (c *requestContext) Err() error                  { return c.arm().Err() }

func (c *requestContext) Value(key any) any {
	if _, ok := key.(ridKey); ok {
		return c.id
	}
	c.mu.Lock()
	armed := c.armed
	c.mu.Unlock()
	if armed != nil {
		return armed.Value(key) // so context.Cause sees the deadline
	}
	return c.parent.Value(key)
}

func (c *requestContext) String() string { return "proxy.requestContext" }

func requestID(ctx context.Context) string {
	s, _ := ctx.Value(ridKey{}).(string)
	return s
}

// incomingID accepts a caller's X-Request-Id only when it is short and plain.
func incomingID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// newRequestID returns 16 random hex digits. Request ids correlate log
// lines; they need to be unique, not unpredictable, so the runtime's cheap
// per-thread generator does (crypto/rand costs a system call on older kernels).
func newRequestID() string {
	var b [8]byte
	u := rand.Uint64()
	for i := range b {
		b[i] = byte(u >> (8 * i))
	}
	return hex.EncodeToString(b[:])
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// plain adapts a router handle to http.Handler for the router's fallbacks.
func plain(h httprouter.Handle) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(w, r, nil) })
}

// requestBuckets are the upper bounds, in seconds, of the request duration
// histogram: a cache hit is answered in 50-500 µs, a stored variant in a
// few ms, a cold render in 10-400 ms, POST /process waits up to its job
// timeout.
var requestBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// routeMetrics are one route's counters, created once per status code
// seen, so a request builds no metric name.
type routeMetrics struct {
	set      *metrics.Set
	route    string
	duration *metrics.PrometheusHistogram
	byStatus [600]atomic.Pointer[metrics.Counter]
}

func (m *routeMetrics) requests(status int) *metrics.Counter {
	if status < 0 || status >= len(m.byStatus) {
		return m.set.GetOrCreateCounter(`covers_http_requests_total{route="` + m.route + `",status="` + strconv.Itoa(status) + `"}`)
	}
	if c := m.byStatus[status].Load(); c != nil {
		return c
	}
	c := m.set.GetOrCreateCounter(`covers_http_requests_total{route="` + m.route + `",status="` + strconv.Itoa(status) + `"}`)
	m.byStatus[status].Store(c)
	return c
}

// wrap adds the request id, deadline, panic recovery, error mapping, access
// log and metrics around a handler. The log carries the path only: query
// strings hold signatures. With Config.AccessLog off, only requests answered
// with 4xx or 5xx are logged.
func (h *handlers) wrap(route string, fn handlerFunc) httprouter.Handle {
	m := &routeMetrics{set: h.set, route: route,
		duration: h.set.GetOrCreatePrometheusHistogramExt(`covers_http_request_duration_seconds{route="`+route+`"}`, requestBuckets)}
	quiet := route == "health" || route == "ready"
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !incomingID(id) {
			id = newRequestID()
		}
		ctx := newRequestContext(r.Context(), id, h.cfg.RequestTimeout)
		defer ctx.release()
		r = r.WithContext(ctx)
		w.Header()["X-Request-Id"] = []string{id}
		sw := &statusWriter{ResponseWriter: w}
		func() {
			defer func() {
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler {
						panic(p)
					}
					h.log.Error("panic", "request_id", id, "route", route, "panic", fmt.Sprint(p))
					if sw.status == 0 {
						h.writeError(sw, r, errPanic)
					}
				}
			}()
			if err := fn(sw, r, ps); err != nil {
				h.writeError(sw, r, err)
			}
		}()
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		end := time.Now()
		d := end.Sub(start)
		m.duration.Update(d.Seconds())
		m.requests(sw.status).Inc()
		if !quiet && (h.cfg.AccessLog || sw.status >= 400) {
			line := accessLine{id: id, method: r.Method, route: route, path: r.URL.Path, status: sw.status, bytes: sw.bytes, took: d, at: end}
			if h.access != nil {
				h.access.add(line)
			} else {
				writeAccessLine(h.log, line)
			}
		}
	}
}
