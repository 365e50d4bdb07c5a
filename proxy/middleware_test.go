package proxy

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRequestContext(t *testing.T) {
	cases := []struct {
		name    string
		timeout time.Duration
		act     func(parentCancel context.CancelFunc, c *requestContext)
		wantErr error
	}{
		{"deadline passes", 20 * time.Millisecond, func(context.CancelFunc, *requestContext) {}, context.DeadlineExceeded},
		{"parent cancelled", time.Hour, func(cancel context.CancelFunc, _ *requestContext) { cancel() }, context.Canceled},
		{"released", time.Hour, func(_ context.CancelFunc, c *requestContext) { c.release() }, context.Canceled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			parent, cancel := context.WithCancel(context.Background())
			defer cancel()
			ctx := newRequestContext(parent, "abc", c.timeout)
			if err := ctx.Err(); err != nil {
				t.Fatalf("Err before anything happened = %v", err)
			}
			c.act(cancel, ctx)
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("Done did not close")
			}
			if err := ctx.Err(); !errors.Is(err, c.wantErr) {
				t.Errorf("Err = %v, want %v", err, c.wantErr)
			}
			if got := requestID(ctx); got != "abc" {
				t.Errorf("requestID = %q, want abc", got)
			}
		})
	}
}

func TestRequestContextArmedAfterRelease(t *testing.T) {
	t.Parallel()
	ctx := newRequestContext(context.Background(), "x", time.Hour)
	ctx.release()
	if err := ctx.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("Err after release, never armed before = %v, want Canceled", err)
	}
	child, cancel := context.WithCancel(ctx)
	defer cancel()
	if child.Err() == nil {
		t.Error("a child of a released request context is not done")
	}
}

func TestRequestContextDeadline(t *testing.T) {
	t.Parallel()
	early := time.Now().Add(time.Second)
	parent, cancel := context.WithDeadline(context.Background(), early)
	defer cancel()
	ctx := newRequestContext(parent, "x", time.Hour)
	if d, ok := ctx.Deadline(); !ok || !d.Equal(early) {
		t.Errorf("Deadline = %v, %v; want the parent's earlier %v", d, ok, early)
	}
	ctx = newRequestContext(context.Background(), "x", time.Minute)
	if d, ok := ctx.Deadline(); !ok || d.Before(time.Now().Add(59*time.Second)) {
		t.Errorf("Deadline = %v, %v; want about a minute from now", d, ok)
	}
}

func TestAccessLogSetting(t *testing.T) {
	cases := []struct {
		name      string
		accessLog bool
		status    int
		wantLine  bool
	}{
		{"on, 200", true, 200, true},
		{"off, 200", false, 200, false},
		{"off, 304", false, 304, false},
		{"off, 404", false, 404, true},
		{"off, 503", false, 503, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			cfg := DefaultConfig()
			cfg.AccessLog = c.accessLog
			h := &handlers{cfg: cfg, log: slog.New(slog.NewJSONHandler(&buf, nil)), set: newTestSet()}
			handle := h.wrap("covers", func(w http.ResponseWriter, _ *http.Request, _ httprouterParams) error {
				w.WriteHeader(c.status)
				return nil
			})
			rec := httptest.NewRecorder()
			handle(rec, httptest.NewRequest(http.MethodGet, "/covers/B1/320.webp?sig=secret", nil), nil)
			got := strings.Contains(buf.String(), `"msg":"request"`)
			if got != c.wantLine {
				t.Errorf("AccessLog=%v, status %d: access line logged = %v, want %v (log %q)", c.accessLog, c.status, got, c.wantLine, buf.String())
			}
			if strings.Contains(buf.String(), "secret") {
				t.Errorf("log carries the query string: %s", buf.String())
			}
			if rec.Header().Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
		})
	}
}

func TestRequestCountersPerStatus(t *testing.T) {
	t.Parallel()
	h := &handlers{cfg: DefaultConfig(), log: slog.New(slog.DiscardHandler), set: newTestSet()}
	status := 200
	handle := h.wrap("covers", func(w http.ResponseWriter, _ *http.Request, _ httprouterParams) error {
		w.WriteHeader(status)
		return nil
	})
	for _, s := range []int{200, 200, 304, 200} {
		status = s
		handle(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/covers/B1/320.webp", nil), nil)
	}
	var out bytes.Buffer
	h.set.WritePrometheus(&out)
	for _, want := range []string{`covers_http_requests_total{route="covers",status="200"} 3`, `covers_http_requests_total{route="covers",status="304"} 1`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, out.String())
		}
	}
}
