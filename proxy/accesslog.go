package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// accessLineQueue bounds the access lines waiting to be written.
const accessLineQueue = 8192

// accessLine is one request's access-log line, as the handler saw it.
type accessLine struct {
	id, method, route, path string
	status                  int
	bytes                   int64
	took                    time.Duration
}

// accessLog writes access lines off the request path, the way busy servers
// do: a request hands its line to a bounded queue without waiting and one
// goroutine formats and writes them. When the queue is full the line is
// dropped and counted (covers_http_access_log_dropped_total) rather than
// making a request wait on the log. Flush writes what is queued (shutdown).
type accessLog struct {
	log     *slog.Logger
	lines   chan accessLine
	flush   chan chan struct{}
	stop    chan struct{}
	done    chan struct{}
	dropped *metrics.Counter
}

func newAccessLog(log *slog.Logger, set *metrics.Set) *accessLog {
	a := &accessLog{log: log, lines: make(chan accessLine, accessLineQueue),
		flush: make(chan chan struct{}), stop: make(chan struct{}), done: make(chan struct{}),
		dropped: set.NewCounter(`covers_http_access_log_dropped_total`)}
	go a.run()
	return a
}

// add queues a line, or drops and counts it when the queue is full.
func (a *accessLog) add(l accessLine) {
	select {
	case a.lines <- l:
	default:
		a.dropped.Inc()
	}
}

func (a *accessLog) run() {
	defer close(a.done)
	for {
		select {
		case l := <-a.lines:
			a.write(l)
		case flushed := <-a.flush:
			a.drain()
			close(flushed)
		case <-a.stop:
			a.drain()
			return
		}
	}
}

// drain writes every queued line.
func (a *accessLog) drain() {
	for {
		select {
		case l := <-a.lines:
			a.write(l)
		default:
			return
		}
	}
}

func (a *accessLog) write(l accessLine) { writeAccessLine(a.log, l) }

// writeAccessLine formats and writes one access line.
func writeAccessLine(log *slog.Logger, l accessLine) {
	log.LogAttrs(context.Background(), slog.LevelInfo, "request", slog.String("request_id", l.id), slog.String("method", l.method),
		slog.String("route", l.route), slog.String("path", l.path), slog.Int("status", l.status),
		slog.Int64("bytes", l.bytes), slog.Float64("duration_ms", float64(l.took.Microseconds())/1000))
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

// Close writes what is queued and stops the writer; later lines are
// dropped and counted.
func (a *accessLog) Close() {
	select {
	case <-a.done:
	default:
		close(a.stop)
		<-a.done
	}
}
