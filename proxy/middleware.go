package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/julienschmidt/httprouter"
)

type handlers struct {
	cfg Config
	d   Deps
	log *slog.Logger
	set *metrics.Set
}

// handlerFunc is a handler that returns its error; wrap maps it.
type handlerFunc func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error

type ridKey struct{}

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

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
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

// wrap adds the request id, deadline, panic recovery, error mapping, access
// log and metrics around a handler. The log carries the path only: query
// strings hold signatures.
func (h *handlers) wrap(route string, fn handlerFunc) httprouter.Handle {
	dur := h.set.GetOrCreateHistogram(`covers_http_request_duration_seconds{route="` + route + `"}`)
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !incomingID(id) {
			id = newRequestID()
		}
		ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), ridKey{}, id), h.cfg.RequestTimeout)
		defer cancel()
		r = r.WithContext(ctx)
		w.Header().Set("X-Request-Id", id)
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
		d := time.Since(start)
		dur.Update(d.Seconds())
		h.set.GetOrCreateCounter(`covers_http_requests_total{route="` + route + `",status="` + strconv.Itoa(sw.status) + `"}`).Inc()
		if route != "health" && route != "ready" && (h.cfg.AccessLog || sw.status >= 400) {
			h.log.Info("request", "request_id", id, "method", r.Method, "route", route, "path", r.URL.Path,
				"status", sw.status, "bytes", sw.bytes, "duration_ms", float64(d.Microseconds())/1000)
		}
	}
}
