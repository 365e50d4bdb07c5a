package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
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
	h.access = newAccessLog(h.log, out, set)
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
// Both ways of writing: batches straight to the log's stream, and one line
// at a time through the logger.
func TestAccessLogCloseWritesQueuedLines(t *testing.T) {
	for _, direct := range []bool{true, false} {
		t.Run(fmt.Sprintf("direct=%v", direct), func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			var out io.Writer
			if direct {
				out = &buf
			}
			set := metrics.NewSet()
			a := newAccessLog(slog.New(slog.NewJSONHandler(&buf, nil)), out, set)
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
		})
	}
}

// Close loses no queued line: lines added from many goroutines at once are
// each written exactly once, each goroutine's in its order.
func TestAccessLogCloseLosesNoQueuedLine(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	set := metrics.NewSet()
	a := newAccessLog(slog.New(slog.NewJSONHandler(&buf, nil)), &buf, set)
	const writers, each = 8, 500 // 4000 lines: within the queue's bound, so none may drop
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				a.add(accessLine{id: fmt.Sprintf("w%d-%d", w, i), method: "GET", route: "covers", path: "/covers/B1/320.webp", status: 200})
			}
		}()
	}
	wg.Wait()
	a.Close()
	if d := a.dropped.Get(); d != 0 {
		t.Fatalf("%d lines dropped, want 0 (%d lines, queue bound %d)", d, writers*each, accessLineQueue)
	}
	next := make([]int, writers) // the next line number expected of each writer
	sc := bufio.NewScanner(&buf)
	lines := 0
	for sc.Scan() {
		var got struct {
			ID string `json:"request_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
			t.Fatalf("line %d %q: %v", lines, sc.Text(), err)
		}
		var w, i int
		if _, err := fmt.Sscanf(got.ID, "w%d-%d", &w, &i); err != nil || w < 0 || w >= writers {
			t.Fatalf("line %d: request_id %q is none of the ids added", lines, got.ID)
		}
		if i != next[w] {
			t.Fatalf("line %d: %s after w%d-%d, want w%d-%d next", lines, got.ID, w, next[w]-1, w, next[w])
		}
		next[w]++
		lines++
	}
	if lines != writers*each {
		t.Errorf("Close wrote %d lines, want %d", lines, writers*each)
	}
}

// countingWriter counts writes; the first one waits until release is closed.
type countingWriter struct {
	release chan struct{}
	mu      sync.Mutex
	writes  int
	buf     bytes.Buffer
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.writes++
	first := w.writes == 1
	w.mu.Unlock()
	if first {
		<-w.release
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// Lines that arrive while the writer is busy are written together: one
// write for all of them, not one each.
func TestAccessLogBatchesWrites(t *testing.T) {
	t.Parallel()
	out := &countingWriter{release: make(chan struct{})}
	set := metrics.NewSet()
	a := newAccessLog(slog.New(slog.NewJSONHandler(out, nil)), out, set)
	defer a.Close()
	const lines = 200 // about 40 KB: less than one write's worth
	for i := range lines {
		a.add(accessLine{id: strconv.Itoa(i), method: "GET", route: "covers", path: "/covers/B1/320.webp", status: 200})
	}
	close(out.release)
	if err := a.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	if n := strings.Count(out.buf.String(), `"msg":"request"`); n != lines {
		t.Errorf("%d lines written, want %d", n, lines)
	}
	// At most one write can have started before the lines were all queued
	// (the one held back); everything else goes out in one more write.
	if out.writes > 2 {
		t.Errorf("%d lines took %d writes, want at most 2", lines, out.writes)
	}
}

// The access line built by hand is, byte for byte, the one slog's JSON
// handler writes for the same request, and parses as JSON with every field,
// whatever the path holds.
func TestAccessLineMatchesSlog(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 7, 8, 15, 30, 123456789, time.UTC)
	cases := []struct {
		name string
		line accessLine
	}{
		{"hit", accessLine{id: "0123456789abcdef", method: "GET", route: "covers", path: "/covers/B123/320.webp", status: 200, bytes: 16816, took: 1234 * time.Microsecond, at: at}},
		{"whole millisecond", accessLine{id: "a", method: "HEAD", route: "covers", path: "/covers/B1/320.webp", status: 304, took: 3 * time.Millisecond, at: at}},
		{"zero duration", accessLine{id: "a", method: "GET", route: "health", path: "/health", status: 200, at: at}},
		{"sub-microsecond", accessLine{id: "a", method: "GET", route: "covers", path: "/", status: 200, took: 999, at: at}},
		{"long", accessLine{id: "a", method: "GET", route: "covers", path: "/x", status: 504, bytes: 1 << 40, took: 95 * time.Second, at: at}},
		{"local zone", accessLine{id: "a", method: "GET", route: "covers", path: "/x", status: 200, took: time.Microsecond, at: at.In(time.FixedZone("X", -(3*3600 + 1800)))}},
		{"quotes and backslashes", accessLine{id: "a", method: "GET", route: "not_found", path: `/covers/"B1"\x/\\"`, status: 404, at: at}},
		{"control characters", accessLine{id: "a", method: "GET", route: "not_found", path: "/a\nb\rc\td\x00e\x01f\x1fg\x7fh", status: 404, at: at}},
		{"html", accessLine{id: "a", method: "GET", route: "not_found", path: "/<script>&amp;</script>", status: 404, at: at}},
		{"utf-8", accessLine{id: "a", method: "GET", route: "not_found", path: "/covers/Bü€𝄞/320.webp", status: 404, at: at}},
		{"line separators", accessLine{id: "a", method: "GET", route: "not_found", path: "/a\u2028b\u2029c", status: 404, at: at}},
		{"invalid utf-8", accessLine{id: "a", method: "GET", route: "not_found", path: "/a\xffb\xc3(c\xe2\x82", status: 404, at: at}},
		{"odd method", accessLine{id: "a", method: "PR\"OP\\FIND", route: "not_allowed", path: "/", status: 405, at: at}},
		{"empty", accessLine{at: at}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var want bytes.Buffer
			writeAccessLine(slog.New(slog.NewJSONHandler(&want, nil)), c.line)
			got := appendAccessLine(nil, c.line)
			if string(got) != want.String() {
				t.Errorf("appendAccessLine(%+v)\n got  %s\n want %s", c.line, got, want.String())
			}
			var fields map[string]any
			if err := json.Unmarshal(got, &fields); err != nil {
				t.Fatalf("line %s does not parse as JSON: %v", got, err)
			}
			// encoding/json reads invalid UTF-8 back as U+FFFD, one per bad byte.
			wantFields := map[string]any{"level": "INFO", "msg": "request", "request_id": c.line.id,
				"method": replaceInvalid(c.line.method), "route": c.line.route, "path": replaceInvalid(c.line.path),
				"status": float64(c.line.status), "bytes": float64(c.line.bytes), "duration_ms": float64(c.line.took.Microseconds()) / 1000}
			for k, v := range wantFields {
				if fields[k] != v {
					t.Errorf("field %s = %#v, want %#v (line %s)", k, fields[k], v, got)
				}
			}
			if ts, err := time.Parse(time.RFC3339Nano, fmt.Sprint(fields["time"])); err != nil || !ts.Equal(c.line.at) {
				t.Errorf("time %v (%v), want %v", fields["time"], err, c.line.at)
			}
			if len(fields) != len(wantFields)+1 {
				t.Errorf("%d fields, want %d: %s", len(fields), len(wantFields)+1, got)
			}
		})
	}
}

// replaceInvalid replaces each byte of s that is not part of valid UTF-8
// with U+FFFD.
func replaceInvalid(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r) // range yields U+FFFD for each invalid byte
	}
	return b.String()
}

// FuzzAppendAccessLine: for any path, method and id the hand-built line
// parses as one JSON object and is what slog writes.
func FuzzAppendAccessLine(f *testing.F) {
	f.Add("/covers/B1/320.webp", "GET", "0123456789abcdef", int64(1234))
	f.Add("/a\xffb\u2028\"\\\n", "PR\x00OP", "", int64(0))
	f.Fuzz(func(t *testing.T, path, method, id string, micros int64) {
		l := accessLine{id: id, method: method, route: "covers", path: path, status: 200, took: time.Duration(micros) * time.Microsecond,
			at: time.Date(2026, 12, 7, 8, 15, 30, 1, time.UTC)}
		var want bytes.Buffer
		writeAccessLine(slog.New(slog.NewJSONHandler(&want, nil)), l)
		got := appendAccessLine(nil, l)
		if string(got) != want.String() {
			t.Errorf("appendAccessLine(%+v)\n got  %s\n want %s", l, got, want.String())
		}
		if bytes.Count(got, []byte("\n")) != 1 || !json.Valid(got) {
			t.Errorf("line %q is not one JSON object on one line", got)
		}
	})
}

// With the logger above INFO no access line is written, and none waits in
// the queue or counts as dropped.
func TestAccessLogQuietAboveInfo(t *testing.T) {
	t.Parallel()
	for _, direct := range []bool{true, false} {
		var buf bytes.Buffer
		var out io.Writer
		if direct {
			out = &buf
		}
		a := newAccessLog(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})), out, metrics.NewSet())
		for range accessLineQueue + 10 {
			a.add(accessLine{id: "r", method: "GET", route: "covers", path: "/covers/B1/320.webp", status: 200})
		}
		a.Close()
		if buf.Len() != 0 || a.dropped.Get() != 0 {
			t.Errorf("direct=%v, logger at WARN: wrote %q and dropped %d lines, want nothing written and nothing dropped", direct, buf.String(), a.dropped.Get())
		}
	}
}
