package transform

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// workerStartTimeout bounds a worker's start-up (exec, libvips init,
// handshake).
const workerStartTimeout = 30 * time.Second

// pool keeps up to n render worker processes, one operation each at a time.
// The render gate admits at most n operations, so a caller always finds an
// idle worker or a free place to start one. A worker that dies (a codec
// crashed, or it was killed) is discarded and replaced on next use; one
// whose caller's context ends mid-operation is killed, so a stuck decoder
// never keeps its slot.
type pool struct {
	command []string
	env     []string
	hello   Config
	logger  *slog.Logger

	idle chan *worker // nil entries are places for a worker not started yet

	mu      sync.Mutex
	live    map[*worker]struct{}
	closed  bool
	peakRSS atomic.Int64

	started, crashed, killed *metrics.Counter

	// beforeExchange, when set (tests only), runs with the worker's pid
	// before each request is sent.
	beforeExchange func(pid int)
}

type worker struct {
	cmd      *exec.Cmd
	in       io.WriteCloser
	out      *bufio.Reader
	closeOut io.Closer     // the read end of the worker's stdout
	done     chan struct{} // closed when the process has been reaped
	err      error         // exit status, valid after done
}

func newPool(cfg Config, n int, logger *slog.Logger, set *metrics.Set) *pool {
	p := &pool{
		command: cfg.WorkerCommand,
		env:     cfg.WorkerEnv,
		hello:   cfg,
		logger:  logger,
		idle:    make(chan *worker, n),
		live:    map[*worker]struct{}{},
		started: set.NewCounter(`covers_transform_worker_starts_total`),
		crashed: set.NewCounter(`covers_transform_worker_exits_total{reason="crash"}`),
		killed:  set.NewCounter(`covers_transform_worker_exits_total{reason="killed"}`),
	}
	for range n {
		p.idle <- nil
	}
	set.NewGauge(`covers_transform_workers`, func() float64 {
		p.mu.Lock()
		defer p.mu.Unlock()
		return float64(len(p.live))
	})
	set.NewGauge(`covers_transform_worker_peak_rss_bytes`, func() float64 { return float64(p.peakRSS.Load()) })
	return p
}

// call runs one operation in a worker. If the worker dies during it, the
// operation is tried once more in a fresh worker (a worker may be killed for
// reasons of its own, such as the kernel's OOM killer); a second death is
// ErrRenderFailed: the input kills the decoder. When ctx ends first, the
// worker is killed and ctx's error returned.
func (p *pool) call(ctx context.Context, req workerRequest, payload []byte) (workerResponse, []byte, error) {
	for attempt := 1; ; attempt++ {
		w, err := p.get(ctx)
		if err != nil {
			return workerResponse{}, nil, err
		}
		resp, body, err := p.exchange(ctx, w, req, payload)
		switch {
		case err == nil:
			p.put(w)
			p.notePeak(resp.PeakRSS)
			return resp, body, resp.err()
		case ctx.Err() != nil:
			p.reap(w, p.killed)
			p.idle <- nil
			return workerResponse{}, nil, fmt.Errorf("render worker: %w", ctx.Err())
		}
		state := p.reap(w, p.crashed)
		p.idle <- nil
		p.logger.Error("render worker died", "op", string(req.Op), "attempt", attempt, "exit", state, "error", err.Error())
		if attempt == 2 {
			return workerResponse{}, nil, fmt.Errorf("render worker died twice on this input (%s): %w", state, ErrRenderFailed)
		}
	}
}

// exchange sends one request and reads its response, giving up (and
// killing the worker) when ctx ends.
func (p *pool) exchange(ctx context.Context, w *worker, req workerRequest, payload []byte) (workerResponse, []byte, error) {
	type result struct {
		resp workerResponse
		body []byte
		err  error
	}
	if p.beforeExchange != nil {
		p.beforeExchange(w.cmd.Process.Pid)
	}
	ch := make(chan result, 1)
	go func() {
		var r result
		if r.err = writeFrame(w.in, req, payload); r.err == nil {
			r.body, r.err = readFrame(w.out, &r.resp)
		}
		ch <- r
	}()
	select {
	case r := <-ch:
		return r.resp, r.body, r.err
	case <-ctx.Done():
		w.kill()
		<-ch
		return workerResponse{}, nil, ctx.Err()
	}
}

// get takes an idle worker, starting one where a place is free.
func (p *pool) get(ctx context.Context) (*worker, error) {
	var w *worker
	select {
	case w = <-p.idle:
	case <-ctx.Done():
		return nil, fmt.Errorf("render worker: %w", ctx.Err())
	}
	if w != nil && !w.exited() {
		return w, nil
	}
	if w != nil {
		p.reap(w, p.crashed) // died while idle; its place is ours
	}
	w, err := p.start(ctx)
	if err != nil {
		p.idle <- nil
		return nil, err
	}
	return w, nil
}

func (p *pool) put(w *worker) { p.idle <- w }

// reap kills and reaps w and counts the exit; it returns how the process
// ended. The caller decides what becomes of w's place in idle.
func (p *pool) reap(w *worker, reason *metrics.Counter) string {
	w.kill()
	<-w.done // the waiting goroutine has taken it off live
	reason.Inc()
	if w.err == nil {
		return "exit status 0"
	}
	return w.err.Error()
}

// start execs a worker and waits for its handshake.
func (p *pool) start(ctx context.Context) (*worker, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("render worker: renderer closed: %w", ErrOverloaded)
	}
	cmd := exec.Command(p.command[0], p.command[1:]...)
	cmd.Env = append(cmd.Environ(), p.env...)
	cmd.Stderr = &logWriter{logger: p.logger}
	// Our own pipes, widened so that a typical original or output crosses
	// in one write instead of 16 wake-ups of the default 64 KiB pipe.
	inR, in, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("render worker: %w", err)
	}
	out, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		in.Close()
		return nil, fmt.Errorf("render worker: %w", err)
	}
	widenPipe(in)
	widenPipe(outW)
	cmd.Stdin, cmd.Stdout = inR, outW
	err = cmd.Start()
	inR.Close() // the child holds its own copies
	outW.Close()
	if err != nil {
		in.Close()
		out.Close()
		return nil, fmt.Errorf("render worker: start %s: %w (%v)", p.command[0], ErrOverloaded, err)
	}
	w := &worker{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 64<<10), done: make(chan struct{})}
	w.closeOut = out
	p.mu.Lock()
	p.live[w] = struct{}{}
	p.mu.Unlock()
	go func() {
		w.err = cmd.Wait()
		w.in.Close()
		w.closeOut.Close()
		p.mu.Lock()
		delete(p.live, w)
		p.mu.Unlock()
		close(w.done)
	}()
	p.started.Inc()

	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), workerStartTimeout)
	defer cancel()
	ch := make(chan error, 1)
	go func() {
		var resp workerResponse
		err := writeFrame(w.in, p.hello, nil)
		if err == nil {
			_, err = readFrame(w.out, &resp)
		}
		if err == nil {
			err = resp.err()
		}
		ch <- err
	}()
	select {
	case err = <-ch:
	case <-hctx.Done():
		err = hctx.Err()
	}
	if err != nil {
		w.kill()
		<-w.done
		// Not the original's fault: answer like a full queue (503, retry).
		return nil, fmt.Errorf("render worker: handshake: %w (%v)", ErrOverloaded, err)
	}
	return w, nil
}

func (p *pool) notePeak(rss int64) {
	for {
		old := p.peakRSS.Load()
		if rss <= old || p.peakRSS.CompareAndSwap(old, rss) {
			return
		}
	}
}

// pids lists the live workers' process ids.
func (p *pool) pids() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]int, 0, len(p.live))
	for w := range p.live {
		out = append(out, w.cmd.Process.Pid)
	}
	return out
}

// close kills every worker; later calls fail.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	ws := make([]*worker, 0, len(p.live))
	for w := range p.live {
		ws = append(ws, w)
	}
	p.mu.Unlock()
	for _, w := range ws {
		_ = w.in.Close() // a worker between requests exits on EOF
		select {
		case <-w.done:
		case <-time.After(2 * time.Second):
			w.kill()
			<-w.done
		}
	}
}

func (w *worker) kill() { _ = w.cmd.Process.Kill() }

func (w *worker) exited() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// logWriter turns a worker's stderr lines into log records.
type logWriter struct {
	logger *slog.Logger
	buf    []byte
}

func (l *logWriter) Write(b []byte) (int, error) {
	l.buf = append(l.buf, b...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimSpace(string(l.buf[:i])); line != "" {
			l.logger.Warn("render worker", "stderr", line)
		}
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 64<<10 {
		l.buf = l.buf[:0]
	}
	return len(b), nil
}
