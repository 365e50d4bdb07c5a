package proxy

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// blockingWriter holds every write until release is closed.
type blockingWriter struct {
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *blockingWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// A request never waits on the access log: with the log's writer stuck,
// requests keep being answered; lines beyond the queue are dropped and
// counted; once the writer moves, Flush writes every queued line, in order.
func TestAccessLogNeverBlocksARequest(t *testing.T) {
	out := &blockingWriter{release: make(chan struct{})}
	set := metrics.NewSet()
	h := &handlers{cfg: DefaultConfig(), log: slog.New(slog.NewJSONHandler(out, nil)), set: set}
	h.access = newAccessLog(h.log, set)
	defer h.access.Close()
	handle := h.wrap("covers", func(w http.ResponseWriter, _ *http.Request, _ httprouterParams) error {
		w.WriteHeader(http.StatusOK)
		return nil
	})
	const requests = accessLineQueue + 500
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for range requests {
			handle(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/covers/B1/320.webp?sig=secret", nil), nil)
		}
	}()
	select {
	case <-finished:
	case <-time.After(30 * time.Second):
		t.Fatal("requests waited on a stuck access-log writer")
	}
	dropped := h.access.dropped.Get()
	// One line may be held by the writer goroutine itself, outside the queue.
	if dropped < requests-accessLineQueue-1 || dropped > requests-accessLineQueue {
		t.Errorf("dropped %d lines with the writer stuck, want %d (requests beyond the queue of %d)", dropped, requests-accessLineQueue, accessLineQueue)
	}
	close(out.release)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.access.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	lines := strings.Count(out.String(), `"msg":"request"`)
	if uint64(lines)+dropped != requests {
		t.Errorf("%d lines written + %d dropped, want %d requests in all", lines, dropped, requests)
	}
	if strings.Contains(out.String(), "secret") {
		t.Error("an access line carries the query string")
	}
}

// Close writes what is queued; lines after it are dropped, not blocked on.
func TestAccessLogCloseWritesQueuedLines(t *testing.T) {
	var buf bytes.Buffer
	set := metrics.NewSet()
	a := newAccessLog(slog.New(slog.NewJSONHandler(&buf, nil)), set)
	for i := range 100 {
		a.add(accessLine{id: "r", method: "GET", route: "covers", path: "/covers/B1/320.webp", status: 200 + i%2})
	}
	a.Close()
	if n := strings.Count(buf.String(), `"msg":"request"`); n != 100 {
		t.Errorf("%d lines written by Close, want 100", n)
	}
	for range accessLineQueue + 1 {
		a.add(accessLine{})
	}
	if a.dropped.Get() != 1 {
		t.Errorf("after Close: %d dropped, want 1 (the queue holds the rest, nothing blocks)", a.dropped.Get())
	}
	if err := a.Flush(context.Background()); err != nil {
		t.Errorf("Flush after Close = %v, want nil", err)
	}
}
