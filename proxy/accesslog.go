package proxy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/VictoriaMetrics/metrics"
)

const (
	// accessLineQueue bounds the access lines held in memory: queued, or
	// taken by the writer and not yet written.
	accessLineQueue = 8192
	// accessLogBatch is how long the writer lets lines gather after the
	// first one arrives, unless half the queue fills first: at tens of
	// thousands of requests per second that is hundreds of lines per write.
	accessLogBatch = 10 * time.Millisecond
	// accessWriteSize is the largest write the writer makes (whole lines).
	accessWriteSize = 64 << 10
)

// accessLine is one request's access-log line, as the handler saw it.
type accessLine struct {
	id, method, route, path string
	status                  int
	bytes                   int64
	took                    time.Duration
	at                      time.Time // when the answer was done: the line's time
}

// accessLog writes access lines off the request path, the way busy servers
// do. A request appends its line to a bounded queue under a mutex (no
// channel send, no goroutine wake-up but the first of a batch); one
// goroutine takes the whole queue at once, formats the lines as JSON into
// one reused buffer and writes them with one write per 64 KiB. When the
// queue is full the line is dropped and counted
// (covers_http_access_log_dropped_total) rather than making a request wait
// on the log. Flush and Close write what is queued (shutdown).
//
// With out set, lines are built by hand in exactly the shape the service's
// JSON slog handler gives them (appendAccessLine; the test compares the
// bytes) and written to out, which must be the stream log writes to: a
// batch is complete lines, so it interleaves with the log's other lines
// whole. Without out they go through log one at a time.
type accessLog struct {
	log *slog.Logger
	out io.Writer

	mu    sync.Mutex
	queue []accessLine
	held  int // lines queued or being written: at most accessLineQueue

	wake    chan struct{} // the queue went from empty to one line
	full    chan struct{} // the queue reached half its bound
	flush   chan chan struct{}
	stop    chan struct{}
	done    chan struct{}
	dropped *metrics.Counter

	spare []accessLine // the writer's: the previous batch's slice, reused
	buf   []byte       // the writer's
}

func newAccessLog(log *slog.Logger, out io.Writer, set *metrics.Set) *accessLog {
	a := &accessLog{log: log, out: out, wake: make(chan struct{}, 1), full: make(chan struct{}, 1),
		flush: make(chan chan struct{}), stop: make(chan struct{}), done: make(chan struct{}),
		dropped: set.NewCounter(`covers_http_access_log_dropped_total`)}
	go a.run()
	return a
}

// add queues a line, or drops and counts it when the queue is full. Lines
// the logger would not write (a level above INFO) are not queued.
func (a *accessLog) add(l accessLine) {
	if !a.log.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	a.mu.Lock()
	if a.held >= accessLineQueue {
		a.mu.Unlock()
		a.dropped.Inc()
		return
	}
	a.queue = append(a.queue, l)
	a.held++
	n := len(a.queue)
	a.mu.Unlock()
	switch n {
	case 1:
		signal(a.wake)
	case accessLineQueue / 2:
		signal(a.full)
	}
}

// signal wakes the writer without waiting.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (a *accessLog) run() {
	defer close(a.done)
	batch := time.NewTimer(time.Hour)
	batch.Stop()
	for {
		select {
		case <-a.wake:
		case flushed := <-a.flush:
			a.writeQueued()
			close(flushed)
			continue
		case <-a.stop:
			a.writeQueued()
			return
		}
		batch.Reset(accessLogBatch)
		select {
		case <-batch.C:
		case <-a.full:
			batch.Stop()
		case flushed := <-a.flush:
			batch.Stop()
			a.writeQueued()
			close(flushed)
			continue
		case <-a.stop:
			batch.Stop()
			a.writeQueued()
			return
		}
		a.writeQueued()
	}
}

// writeQueued takes every queued line and writes it.
func (a *accessLog) writeQueued() {
	a.mu.Lock()
	lines := a.queue
	a.queue = a.spare[:0]
	a.mu.Unlock()
	if len(lines) == 0 {
		a.spare = lines
		return
	}
	a.write(lines)
	clear(lines) // the strings of requests long answered
	a.spare = lines[:0]
	a.mu.Lock()
	a.held -= len(lines)
	a.mu.Unlock()
}

func (a *accessLog) write(lines []accessLine) {
	if a.out == nil {
		for _, l := range lines {
			writeAccessLine(a.log, l)
		}
		return
	}
	if !a.log.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	for _, l := range lines {
		a.buf = appendAccessLine(a.buf, l)
		if len(a.buf) >= accessWriteSize {
			_, _ = a.out.Write(a.buf) // as slog.Logger does with its handler's errors
			a.buf = a.buf[:0]
		}
	}
	if len(a.buf) > 0 {
		_, _ = a.out.Write(a.buf)
		a.buf = a.buf[:0]
	}
}

// writeAccessLine formats and writes one access line through log.
func writeAccessLine(log *slog.Logger, l accessLine) {
	ctx := context.Background()
	if !log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	r := slog.NewRecord(l.at, slog.LevelInfo, "request", 0)
	r.AddAttrs(slog.String("request_id", l.id), slog.String("method", l.method),
		slog.String("route", l.route), slog.String("path", l.path), slog.Int("status", l.status),
		slog.Int64("bytes", l.bytes), slog.Float64("duration_ms", float64(l.took.Microseconds())/1000))
	_ = log.Handler().Handle(ctx, r)
}

// appendAccessLine appends l as the line slog's JSON handler writes for
// writeAccessLine: the same keys in the same order, the same escaping, the
// time in RFC 3339 with nanoseconds, duration_ms as encoding/json prints a
// float (no exponent at these magnitudes).
func appendAccessLine(b []byte, l accessLine) []byte {
	b = append(b, `{"time":"`...)
	b = l.at.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":"request","request_id":`...)
	b = appendJSONString(b, l.id)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, l.method)
	b = append(b, `,"route":`...)
	b = appendJSONString(b, l.route)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, l.path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(l.status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, l.bytes, 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(l.took.Microseconds())/1000, 'f', -1, 64)
	return append(b, "}\n"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a quoted JSON string, escaped the way
// slog's JSON handler does: ", \ and control characters escaped, invalid
// UTF-8 replaced by U+FFFD (written as UTF-8, as slog does since Go 1.27),
// U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, string(utf8.RuneError)...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Flush returns once every line queued before it is written, or when ctx
// ends.
func (a *accessLog) Flush(ctx context.Context) error {
	flushed := make(chan struct{})
	select {
	case a.flush <- flushed:
	case <-a.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush access log: %w", ctx.Err())
	}
	select {
	case <-flushed:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush access log: %w", ctx.Err())
	}
}

// Close writes what is queued and stops the writer. Later lines are never
// written: they fill the queue, then are dropped and counted.
func (a *accessLog) Close() {
	select {
	case <-a.done:
	default:
		close(a.stop)
		<-a.done
	}
}
