package transform

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/bookcovers/image-worker/cover"
)

// counterValue reads one series from a Renderer's metrics.
func counterValue(t *testing.T, set *metrics.Set, name string) float64 {
	t.Helper()
	var sb strings.Builder
	set.WritePrometheus(&sb)
	for _, line := range strings.Split(sb.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err != nil {
				t.Fatalf("metric %s: %q", name, line)
			}
			return v
		}
	}
	return 0
}

// waitExit waits until pid is gone (reaped by the pool).
func waitExit(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("worker %d still alive 5s after SIGSEGV", pid)
}

// A worker killed by SIGSEGV between renders (what a codec crash does) is
// replaced: the next render works, in a new process, and the exit is
// counted as a crash.
func TestWorkerCrashBetweenRendersIsReplaced(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, func(c *Config) { c.MaxConcurrent = 1 })
	src := testdata(t, "photo-1600x2400-baseline.jpg")
	checkOutput(t, render(t, r, src, Request{Width: 160, Format: cover.WebP}), cover.WebP, 160, 240)
	pids := r.WorkerPIDs()
	if len(pids) != 1 {
		t.Fatalf("WorkerPIDs() = %v; want one worker", pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGSEGV); err != nil {
		t.Fatal(err)
	}
	waitExit(t, pids[0])

	checkOutput(t, render(t, r, src, Request{Width: 96, Format: cover.AVIF}), cover.AVIF, 96, 144)
	after := r.WorkerPIDs()
	if len(after) != 1 || after[0] == pids[0] {
		t.Fatalf("WorkerPIDs() after the crash = %v; want one new worker (the dead one was %d)", after, pids[0])
	}
	if got := counterValue(t, r.Metrics(), `covers_transform_worker_exits_total{reason="crash"}`); got != 1 {
		t.Errorf("worker crash exits = %v; want 1", got)
	}
	if got := counterValue(t, r.Metrics(), `covers_transform_worker_starts_total`); got != 2 {
		t.Errorf("worker starts = %v; want 2", got)
	}
}

// A worker killed by SIGSEGV in the middle of a render: that render is
// tried once more in a fresh worker (a worker can die for reasons of its
// own) and succeeds; the serving process is untouched.
func TestWorkerCrashDuringRenderIsRetriedOnce(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, func(c *Config) { c.MaxConcurrent = 1 })
	src := testdata(t, "photo-1600x2400-baseline.jpg")
	render(t, r, src, Request{Width: 96, Format: cover.WebP}) // the worker is up
	pid := r.WorkerPIDs()[0]
	entered := make(chan struct{})
	r.beforeWork = func() { close(entered) }
	done := make(chan error, 1)
	var res Result
	go func() {
		var err error
		res, err = r.Render(context.Background(), src, Request{Width: 1200, Format: cover.AVIF}) // long enough to be killed in
		done <- err
	}()
	<-entered
	time.Sleep(20 * time.Millisecond) // the request is on its way to the worker
	if err := syscall.Kill(pid, syscall.SIGSEGV); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Render during which the worker died = %v; want success on the retry", err)
	}
	checkOutput(t, res, cover.AVIF, 1200, 1800)
	if got := counterValue(t, r.Metrics(), `covers_transform_worker_exits_total{reason="crash"}`); got != 1 {
		t.Errorf("worker crash exits = %v; want 1", got)
	}
}

// An input that kills every worker it reaches costs that render
// (ErrRenderFailed after two deaths) and nothing else: the next render
// works. The "input" here is a test hook that kills the worker each time.
func TestWorkerDyingTwiceFailsTheRenderOnly(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, func(c *Config) { c.MaxConcurrent = 1 })
	src := testdata(t, "cover-50x75-tiny.jpg")
	render(t, r, src, Request{Width: 32, Format: cover.WebP})
	kills := 0
	r.pool.beforeExchange = func(pid int) {
		kills++
		_ = syscall.Kill(pid, syscall.SIGSEGV)
		waitExit(t, pid)
	}
	_, err := r.Render(context.Background(), src, Request{Width: 32, Format: cover.WebP})
	if !errors.Is(err, ErrRenderFailed) || kills != 2 {
		t.Fatalf("Render whose worker dies each time = %v after %d kills; want ErrRenderFailed after 2", err, kills)
	}
	r.pool.beforeExchange = nil
	checkOutput(t, render(t, r, src, Request{Width: 40, Format: cover.WebP}), cover.WebP, 40, 60)
	if got := counterValue(t, r.Metrics(), `covers_transform_worker_exits_total{reason="crash"}`); got != 2 {
		t.Errorf("worker crash exits = %v; want 2", got)
	}
}

// A caller whose context ends during a render gets its context's error at
// once, and the worker is killed rather than left rendering for nobody: a
// stuck decoder never keeps its slot.
func TestWorkerKilledWhenTheCallerGivesUp(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, func(c *Config) { c.MaxConcurrent = 1 })
	src := testdata(t, "photo-1600x2400-baseline.jpg")
	render(t, r, src, Request{Width: 96, Format: cover.WebP})
	pid := r.WorkerPIDs()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := r.Render(ctx, src, Request{Width: 1600, Format: cover.AVIF})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("Render with a 30ms budget = %v after %v; want DeadlineExceeded promptly", err, time.Since(start))
	}
	waitExit(t, pid)
	if got := counterValue(t, r.Metrics(), `covers_transform_worker_exits_total{reason="killed"}`); got != 1 {
		t.Errorf("worker kills = %v; want 1", got)
	}
	checkOutput(t, render(t, r, src, Request{Width: 96, Format: cover.WebP}), cover.WebP, 96, 144)
}

// Close stops every worker; they do not outlive their Renderer.
func TestCloseStopsWorkers(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	src := testdata(t, "cover-50x75-tiny.jpg")
	render(t, r, src, Request{Width: 32, Format: cover.WebP})
	pids := r.WorkerPIDs()
	if len(pids) == 0 {
		t.Fatal("no worker after a render")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		waitExit(t, pid)
	}
	if _, err := r.Render(context.Background(), src, Request{Width: 32, Format: cover.WebP}); err == nil {
		t.Fatal("Render after Close succeeded; want an error")
	}
}

// The worker lets only the loader of the type Probe decided run: bytes that
// libvips' own sniffing would hand to another loader fail instead of being
// decoded by it. Not parallel: it changes libvips' process-wide block state
// in this test process, as a worker does.
func TestOnlyTheProbedTypesLoaderRuns(t *testing.T) {
	e := engine{cfg: DefaultConfig()}
	png := testdata(t, "p6.png")
	jpg := testdata(t, "cover-50x75-tiny.jpg")
	req := Request{Width: 32, Format: cover.WebP}
	g := plan(50, 75, req)
	if _, err := e.render(TypeJPEG, jpg, g, req); err != nil {
		t.Fatalf("render JPEG with the JPEG loader: %v", err)
	}
	for _, typ := range []SourceType{TypeJPEG, TypeHEIF, TypeTIFF, TypeGIF, TypeWebP} {
		_, err := e.render(typ, png, g, req)
		if !errors.Is(err, ErrRenderFailed) || !strings.Contains(err.Error(), "blocked") {
			t.Errorf("render of a PNG with only the %s loader open = %v; want ErrRenderFailed, operation blocked", typ, err)
		}
	}
	if _, err := e.render(SourceType("tga"), png, g, req); !errors.Is(err, ErrNotAnImage) {
		t.Errorf("render with a type we have no loader for = %v; want ErrNotAnImage", err)
	}
	// The loaders are open again for this (non-worker) process.
	if d := decodeOutput(t, render(t, newTestRenderer(t, nil), png, req).Bytes); d.width != 32 {
		t.Errorf("after the blocked loads, a render is %d wide; want 32", d.width)
	}
}

// ServeWorker refuses a bad config with an error response, and a worker
// whose parent closes the pipe returns nil.
func TestServeWorkerHandshake(t *testing.T) {
	t.Parallel()
	var in, out bytes.Buffer
	if err := writeFrame(&in, Config{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := ServeWorker(&in, &out, nil); err == nil {
		t.Error("ServeWorker with an invalid config = nil; want an error")
	}
	var resp workerResponse
	if _, err := readFrame(&out, &resp); err != nil || !errors.Is(resp.err(), ErrRenderFailed) && resp.Code == "" {
		t.Errorf("response to an invalid config = %+v, %v; want an error code", resp, err)
	}
	if err := ServeWorker(&bytes.Buffer{}, &out, nil); err == nil {
		t.Error("ServeWorker with no config at all = nil; want an error")
	}
}
