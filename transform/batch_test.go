package transform

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/bookcovers/image-worker/cover"
)

// TestRenderBatchesQueuedRequestsOfOneOriginal: with the only render slot
// held, Renders of several sizes of one original queue; when the slot is
// freed, the first to get it takes the others into one ladder operation and
// every waiter gets its own size and format. A waiter whose context ends
// gets its context's error and changes nothing for the others; a request
// for another original is not taken.
func TestRenderBatchesQueuedRequestsOfOneOriginal(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, func(c *Config) { c.MaxConcurrent = 1; c.QueueSize = 16; c.MaxBatch = MaxLadder })
	src := testdata(t, "photo-1600x2400-baseline.jpg")
	other := testdata(t, "cover-800x1200-alpha.png")
	hold, err := r.gate.acquire(context.Background())
	if err != nil {
		t.Fatalf("hold the slot: %v", err)
	}
	reqs := append(defaultLadder(), Request{Width: 320, Height: 320, Format: cover.WebP})
	type outcome struct {
		res Result
		err error
	}
	var (
		wg      sync.WaitGroup
		results = make([]outcome, len(reqs))
	)
	for i, req := range reqs {
		req.Source = "BOOK-1/abc123"
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i].res, results[i].err = r.Render(context.Background(), src, req)
		}()
	}
	// The slot goes to blocked waiters in order: the first is one of these.
	waitFor(t, func() bool { return r.gate.queueDepth() == int64(len(reqs)) })
	// One waiter that gives up while queued, one that gives up once the
	// slot is free (before or after it has been taken: either way only it
	// fails), and a request for another original.
	queuedCtx, cancelQueued := context.WithCancel(context.Background())
	lateCtx, cancelLate := context.WithCancel(context.Background())
	var queuedErr, lateErr, otherErr error
	var otherRes Result
	wg.Add(3)
	go func() {
		defer wg.Done()
		_, queuedErr = r.Render(queuedCtx, src, Request{Width: 200, Format: cover.WebP, Source: "BOOK-1/abc123"})
	}()
	go func() {
		defer wg.Done()
		_, lateErr = r.Render(lateCtx, src, Request{Width: 240, Format: cover.AVIF, Source: "BOOK-1/abc123"})
	}()
	go func() {
		defer wg.Done()
		otherRes, otherErr = r.Render(context.Background(), other, Request{Width: 100, Format: cover.WebP, Source: "BOOK-2/def456"})
	}()
	waitFor(t, func() bool { return r.gate.queueDepth() == int64(len(reqs)+3) })
	cancelQueued()
	waitFor(t, func() bool { return r.gate.queueDepth() == int64(len(reqs)+2) })
	var once sync.Once
	r.beforeWork = func() { once.Do(cancelLate) }
	before := r.Renders()
	hold()
	wg.Wait()

	if !errors.Is(queuedErr, context.Canceled) {
		t.Errorf("Render whose context ended in the queue = %v, want context.Canceled", queuedErr)
	}
	if !errors.Is(lateErr, context.Canceled) {
		t.Errorf("Render whose context ended when the slot was freed = %v, want context.Canceled", lateErr)
	}
	if otherErr != nil || otherRes.Width != 100 {
		t.Errorf("Render of another original = %dx%d, %v; want 100 wide", otherRes.Width, otherRes.Height, otherErr)
	}
	for i, req := range reqs {
		o := results[i]
		if o.err != nil {
			t.Errorf("Render(%+v) = %v", req, o.err)
			continue
		}
		want := render(t, r, src, Request{Width: req.Width, Height: req.Height, Format: req.Format})
		d := decodeOutput(t, o.res.Bytes)
		if d.format != req.Format || d.width != want.Width || d.height != want.Height {
			t.Errorf("Render(%s %dx%d) = %s %dx%d, want %s %dx%d", req.Format, req.Width, req.Height, d.format, d.width, d.height, req.Format, want.Width, want.Height)
		}
	}
	// The renders of want above came after: count only the batch's.
	if got := r.ladders[0].Get(); got != 1 {
		t.Errorf("ladder operations = %d, want 1 (every queued request of BOOK-1 in one)", got)
	}
	if got := r.batched.Get(); got != uint64(len(reqs)-1) && got != uint64(len(reqs)) {
		t.Errorf("requests taken into another's operation = %d, want %d (or %d with the late waiter)", got, len(reqs)-1, len(reqs))
	}
	if got := r.Renders() - before - uint64(len(reqs)); got != 2 {
		t.Errorf("worker operations for the queued requests = %d, want 2 (one ladder for BOOK-1, one render for BOOK-2)", got)
	}
}

// TestRenderBatchTakesAtMostMaxBatch: ten queued renders of one original
// with MaxBatch 4 run as ladders of 4, 4 and 2, each waiter with its size.
func TestRenderBatchTakesAtMostMaxBatch(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, func(c *Config) { c.MaxConcurrent = 1; c.QueueSize = 16; c.MaxBatch = 4 })
	src := testdata(t, "photo-1600x2400-baseline.jpg")
	hold, err := r.gate.acquire(context.Background())
	if err != nil {
		t.Fatalf("hold the slot: %v", err)
	}
	reqs := defaultLadder()
	results := make([]Result, len(reqs))
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for i, req := range reqs {
		req.Source = "BOOK-1/abc123"
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = r.Render(context.Background(), src, req)
		}()
	}
	waitFor(t, func() bool { return r.gate.queueDepth() == int64(len(reqs)) })
	hold()
	wg.Wait()
	for i, req := range reqs {
		if errs[i] != nil || results[i].Format != req.Format || results[i].Width != min(req.Width, 1600) {
			t.Errorf("Render(%s %d) = %s %d, %v", req.Format, req.Width, results[i].Format, results[i].Width, errs[i])
		}
	}
	if got := r.ladders[0].Get(); got != 3 {
		t.Errorf("ladder operations = %d, want 3 (4 + 4 + 2 of 10 queued)", got)
	}
	if got := r.Renders(); got != 3 {
		t.Errorf("worker operations = %d, want 3", got)
	}
}

// TestRenderBatchAlone: a lone Render with a Source is one ordinary render.
func TestRenderBatchAlone(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	src := testdata(t, "photo-1600x2400-baseline.jpg")
	for i, w := range []int{160, 320} {
		res, err := r.Render(context.Background(), src, Request{Width: w, Format: cover.WebP, Source: "BOOK-1/v"})
		if err != nil || res.Width != w {
			t.Fatalf("Render %d = %dx%d, %v; want %d wide", i, res.Width, res.Height, err, w)
		}
	}
	if r.Renders() != 2 || r.ladders[0].Get() != 0 {
		t.Errorf("renders %d, ladders %d; want 2 renders and no ladder", r.Renders(), r.ladders[0].Get())
	}
	if n := len(r.batch.waiting); n != 0 {
		t.Errorf("%d originals still listed as waiting, want 0: %s", n, fmt.Sprint(r.batch.waiting))
	}
}
