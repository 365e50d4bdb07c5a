package transform

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
)

func TestGate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name           string
		workers, queue int
		holders        int // acquire and hold
		waiters        int // block waiting
		wantOverloaded bool
		wantInFlight   int64
	}{
		{name: "free slot", workers: 1, queue: 1, holders: 0, waiters: 0, wantOverloaded: false},
		{name: "queue has room", workers: 1, queue: 1, holders: 1, waiters: 0, wantOverloaded: false, wantInFlight: 1},
		{name: "queue full", workers: 1, queue: 1, holders: 1, waiters: 1, wantOverloaded: true, wantInFlight: 1},
		{name: "no queue, slot busy", workers: 1, queue: 0, holders: 1, waiters: 0, wantOverloaded: true, wantInFlight: 1},
		{name: "two workers busy, queue of two full", workers: 2, queue: 2, holders: 2, waiters: 2, wantOverloaded: true, wantInFlight: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGate(tc.workers, tc.queue)
			var releases []func()
			for range tc.holders {
				rel, err := g.acquire(ctx)
				if err != nil {
					t.Fatalf("holder acquire: %v", err)
				}
				releases = append(releases, rel)
			}
			wctx, cancel := context.WithCancel(ctx)
			var wg sync.WaitGroup
			for range tc.waiters {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if rel, err := g.acquire(wctx); err == nil {
						rel()
					}
				}()
			}
			waitFor(t, func() bool { return g.queueDepth() == int64(tc.waiters) })

			start := time.Now()
			rel, err := g.acquire(withTimeout(t, 200*time.Millisecond))
			elapsed := time.Since(start)
			if tc.wantOverloaded {
				if !errors.Is(err, ErrOverloaded) || elapsed > 50*time.Millisecond {
					t.Fatalf("acquire with %d holding, %d waiting = %v after %v; want ErrOverloaded at once", tc.holders, tc.waiters, err, elapsed)
				}
			} else if tc.holders < tc.workers {
				if err != nil {
					t.Fatalf("acquire with a free slot: %v", err)
				}
				rel()
			} else if !errors.Is(err, context.DeadlineExceeded) {
				// Queue had room: the caller waited until its deadline.
				t.Fatalf("acquire with the queue not full = %v; want to wait until the deadline", err)
			}
			if g.inFlight() != tc.wantInFlight {
				t.Fatalf("inFlight = %d; want %d", g.inFlight(), tc.wantInFlight)
			}
			cancel()
			wg.Wait()
			for _, rel := range releases {
				rel()
			}
			if g.queueDepth() != 0 || g.inFlight() != 0 {
				t.Fatalf("after release: queue %d, in flight %d; want 0, 0", g.queueDepth(), g.inFlight())
			}
			if rel, err := g.acquire(ctx); err != nil {
				t.Fatalf("acquire after everything was released: %v", err)
			} else {
				rel()
			}
		})
	}
}

// A caller waiting in the queue gives up with its context's error; a caller
// whose context is already done never takes a slot.
func TestGateContext(t *testing.T) {
	t.Parallel()
	g := newGate(1, 4)
	rel, err := g.acquire(context.Background())
	if err != nil {
		t.Fatalf("first acquire: %v", err)
	}
	defer rel()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := g.acquire(ctx)
		done <- err
	}()
	waitFor(t, func() bool { return g.queueDepth() == 1 })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("queued acquire after cancel = %v; want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("queued acquire did not return after its context was cancelled")
	}
	if g.queueDepth() != 0 {
		t.Fatalf("queue depth after the waiter left = %d; want 0", g.queueDepth())
	}

	dead, cancelDead := context.WithCancel(context.Background())
	cancelDead()
	if _, err := g.acquire(dead); !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire with a cancelled context = %v; want context.Canceled", err)
	}
}

// Through the Renderer: one render blocked inside its slot, one queued, the
// third refused at once; the queued one is cancelled with its context.
func TestRendererGate(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, func(c *Config) { c.MaxConcurrent, c.QueueSize = 1, 1 })
	entered := make(chan struct{}, 4)
	unblock := make(chan struct{})
	r.beforeWork = func() {
		entered <- struct{}{}
		<-unblock
	}
	src := testdata(t, "cover-50x75-tiny.jpg")
	req := Request{Width: 32, Format: cover.WebP}

	first := make(chan error, 1)
	go func() {
		_, err := r.Render(context.Background(), src, req)
		first <- err
	}()
	<-entered // the first render holds the only slot

	qctx, cancelQueued := context.WithCancel(context.Background())
	queued := make(chan error, 1)
	go func() {
		_, err := r.Render(qctx, src, req)
		queued <- err
	}()
	waitFor(t, func() bool { return r.gate.queueDepth() == 1 })

	start := time.Now()
	_, err := r.Render(context.Background(), src, req)
	if !errors.Is(err, ErrOverloaded) || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("Render with slot and queue full = %v after %v; want ErrOverloaded at once", err, time.Since(start))
	}
	_, err = r.Placeholder(context.Background(), 0, req)
	if !errors.Is(err, ErrOverloaded) {
		t.Fatalf("Placeholder with slot and queue full = %v; want ErrOverloaded", err)
	}

	cancelQueued()
	if err := <-queued; !errors.Is(err, context.Canceled) {
		t.Fatalf("queued Render after cancel = %v; want context.Canceled", err)
	}
	close(unblock)
	if err := <-first; err != nil {
		t.Fatalf("first Render: %v", err)
	}
	if n := r.Renders(); n != 1 {
		t.Fatalf("Renders() = %d; want 1 (refused and cancelled renders never reach libvips)", n)
	}
}

// Many concurrent renders with room in the queue all succeed, and at most
// MaxConcurrent run at once.
func TestRendererGateNoOverloadWithRoom(t *testing.T) {
	t.Parallel()
	const n = 8
	r := newTestRenderer(t, func(c *Config) { c.MaxConcurrent, c.QueueSize = 2, n })
	var (
		mu            sync.Mutex
		running, peak int
	)
	r.beforeWork = func() {
		mu.Lock()
		running++
		peak = max(peak, running)
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		mu.Lock()
		running--
		mu.Unlock()
	}
	src := testdata(t, "cover-50x75-tiny.jpg")
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := r.Render(context.Background(), src, Request{Width: 32, Format: cover.WebP})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("Render with room in the queue: %v", err)
		}
	}
	if peak > 2 || r.Renders() != n {
		t.Fatalf("peak concurrency %d, renders %d; want at most 2 and %d", peak, r.Renders(), n)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 2s")
		}
		time.Sleep(time.Millisecond)
	}
}

func withTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
