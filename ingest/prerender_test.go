package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/transform"
)

// fakeLadder answers every request with bytes naming it, or err; block,
// when set, holds each call until it is closed.
type fakeLadder struct {
	mu    sync.Mutex
	calls [][]transform.Request
	err   error
	fail  map[int]bool // outputs that fail
	block chan struct{}
	// overloads: the first calls answer that the render queue is full.
	overloads int
}

func (f *fakeLadder) RenderLadderEach(ctx context.Context, _ []byte, reqs []transform.Request) ([]transform.Result, []error, error) {
	f.mu.Lock()
	f.calls = append(f.calls, reqs)
	f.mu.Unlock()
	if f.block != nil {
		<-f.block
	}
	if f.count() <= f.overloads {
		return nil, nil, fmt.Errorf("ladder: %w", transform.ErrOverloaded)
	}
	if f.err != nil {
		return nil, nil, f.err
	}
	res := make([]transform.Result, len(reqs))
	errs := make([]error, len(reqs))
	for i, r := range reqs {
		if f.fail[i] {
			errs[i] = transform.ErrRenderFailed
			continue
		}
		res[i] = transform.Result{Bytes: fmt.Appendf(nil, "%dx%d.%s", r.Width, r.Height, r.Format), Width: r.Width, Format: r.Format}
	}
	return res, errs, nil
}

func (f *fakeLadder) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func newPrerenderTest(t *testing.T, ladder *fakeLadder, mutate func(*PrerenderConfig)) (*Prerenderer, cache.Store) {
	t.Helper()
	store, err := cache.NewLocalStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	cfg := DefaultPrerenderConfig()
	cfg.Variants = []PrerenderVariant{{Width: 96, Format: cover.WebP}, {Width: 96, Format: cover.AVIF},
		{Width: 1280, Format: cover.WebP}, {Width: 2000, Format: cover.WebP}, {Width: 300, Height: 300, Format: cover.AVIF}}
	if mutate != nil {
		mutate(&cfg)
	}
	p, err := NewPrerenderer(cfg, ladder, store, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("NewPrerenderer: %v", err)
	}
	return p, store
}

// A ladder refused because the render queue is full is skipped by a
// background prerender (the serving replica's requests come first) and
// waited for by Inline (backfill), which tries again until it runs.
func TestPrerenderInlineWaitsForTheRenderQueue(t *testing.T) {
	t.Parallel()
	m := cover.Manifest{BookID: "B1", Version: "abcdefabcdef", Width: 800, Height: 1200}

	ladder := &fakeLadder{overloads: 1}
	p, _ := newPrerenderTest(t, ladder, nil)
	if n := p.Prerender(t.Context(), m, []byte("original")); n != 0 || ladder.count() != 1 {
		t.Errorf("background prerender with the queue full: stored %d after %d ladders, want 0 after 1", n, ladder.count())
	}

	ladder = &fakeLadder{overloads: 3}
	p, store := newPrerenderTest(t, ladder, nil)
	p.Inline(t.Context(), m, []byte("original"))
	if ladder.count() != 4 {
		t.Errorf("Inline ran %d ladders, want 4 (3 refused, then one)", ladder.count())
	}
	if books, variants := p.Prerendered(); books != 1 || variants != 4 {
		t.Errorf("Inline prerendered %d books, %d variants; want 1 and 4", books, variants)
	}
	if _, err := store.Get(t.Context(), m.Variant(96, 0, false, "webp").StoreKey()); err != nil {
		t.Errorf("variant not stored after the queue had room: %v", err)
	}
}

// TestPrerenderStoresEveryVariantInOneLadder: one ladder call for all the
// variants, sizes clamped to the original like the cover path (1280 and
// 2000 on an 800-wide original are one key, 800), each stored under its
// variant key; the outcome is counted.
func TestPrerenderStoresEveryVariantInOneLadder(t *testing.T) {
	t.Parallel()
	ladder := &fakeLadder{}
	p, store := newPrerenderTest(t, ladder, nil)
	told := map[cover.VariantKey]bool{}
	p.OnStored(func(k cover.VariantKey) { told[k] = true })
	m := cover.Manifest{BookID: "B1", Version: "abcdefabcdef", Width: 800, Height: 1200}
	if n := p.Prerender(t.Context(), m, []byte("original")); n != 4 {
		t.Errorf("Prerender stored %d variants, want 4", n)
	}
	if ladder.count() != 1 || len(ladder.calls[0]) != 4 {
		t.Fatalf("ladder calls = %v, want one of 4 requests", ladder.calls)
	}
	for _, k := range []cover.VariantKey{
		{BookID: "B1", Version: m.Version, Width: 96, Format: "webp"},
		{BookID: "B1", Version: m.Version, Width: 96, Format: "avif"},
		{BookID: "B1", Version: m.Version, Width: 800, Format: "webp"},
		{BookID: "B1", Version: m.Version, Width: 300, Height: 300, Format: "avif"},
	} {
		obj, err := store.Get(t.Context(), k.StoreKey())
		if err != nil {
			t.Errorf("stored %s: %v", k.StoreKey(), err)
			continue
		}
		if want := fmt.Sprintf("%dx%d.%s", k.Width, k.Height, k.Format); string(obj.Data) != want || obj.ContentType != "image/"+k.Format {
			t.Errorf("stored %s = %q (%s), want %q (image/%s)", k.StoreKey(), obj.Data, obj.ContentType, want, k.Format)
		}
		if !told[k] {
			t.Errorf("OnStored was not told of %s", k)
		}
	}
	if len(told) != 4 {
		t.Errorf("OnStored told of %d variants, want 4", len(told))
	}
	if got := p.outcomes[prerenderOK].Get(); got != 1 {
		t.Errorf("ok outcomes = %d, want 1", got)
	}
}

// TestPrerenderNeverFails: a full render queue skips the book, a failed
// ladder or output is counted; nothing is returned to fail a warm.
func TestPrerenderNeverFails(t *testing.T) {
	t.Parallel()
	m := cover.Manifest{BookID: "B1", Version: "abcdefabcdef", Width: 1600, Height: 2400}
	cases := []struct {
		name    string
		ladder  *fakeLadder
		stored  int
		outcome string
	}{
		{"overloaded", &fakeLadder{err: fmt.Errorf("gate: %w", transform.ErrOverloaded)}, 0, prerenderOverloaded},
		{"ladder failed", &fakeLadder{err: transform.ErrRenderFailed}, 0, prerenderError},
		{"one output failed", &fakeLadder{fail: map[int]bool{1: true}}, 4, prerenderPartial},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, _ := newPrerenderTest(t, c.ladder, nil)
			if n := p.Prerender(t.Context(), m, []byte("original")); n != c.stored {
				t.Errorf("Prerender stored %d, want %d", n, c.stored)
			}
			if got := p.outcomes[c.outcome].Get(); got != 1 {
				t.Errorf("%s outcomes = %d, want 1", c.outcome, got)
			}
		})
	}
}

// TestWarmerStartsPrerenderInBackground: Store returns before the
// background prerender has rendered; a book arriving while MaxPending are
// warming is skipped and counted; Wait waits for the rest.
func TestWarmerStartsPrerenderInBackground(t *testing.T) {
	t.Parallel()
	ladder := &fakeLadder{block: make(chan struct{})}
	p, store := newPrerenderTest(t, ladder, func(c *PrerenderConfig) { c.MaxPending = 1 })
	manifests := cache.NewManifests(store, time.Minute, 5*time.Second)
	w := NewWarmer(nil, store, manifests, acceptAll{}, slog.New(slog.DiscardHandler))
	w.OnStored(p.Start)
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, book := range []string{"B1", "B2"} {
		if _, err := w.Store(t.Context(), book, "https://img.example/"+book, []byte("cover of "+book), at); err != nil {
			t.Fatalf("Store(%s): %v", book, err)
		}
	}
	// Both Stores returned while the first ladder is still blocked.
	if got := p.outcomes[prerenderBusy].Get(); got != 1 {
		t.Errorf("books skipped while one was warming = %d, want 1", got)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := p.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait with a ladder still running = %v, want DeadlineExceeded", err)
	}
	close(ladder.block)
	if err := p.Wait(t.Context()); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if ladder.count() != 1 || p.outcomes[prerenderOK].Get() != 1 {
		t.Errorf("ladders %d, ok outcomes %d; want 1 and 1", ladder.count(), p.outcomes[prerenderOK].Get())
	}
}

// ctxLadder records the context each ladder call gets; with hold set it
// waits for that context to end and answers its error.
type ctxLadder struct {
	hold     bool
	started  chan struct{}
	deadline time.Time
	err      error
}

func (l *ctxLadder) RenderLadderEach(ctx context.Context, _ []byte, reqs []transform.Request) ([]transform.Result, []error, error) {
	l.deadline, _ = ctx.Deadline()
	if l.hold {
		close(l.started)
		<-ctx.Done()
		l.err = ctx.Err()
		return nil, nil, ctx.Err()
	}
	return make([]transform.Result, len(reqs)), make([]error, len(reqs)), nil
}

// TestPrerenderInline: Inline renders with its own Timeout, however little
// is left of the caller's deadline (even none), and stops when the caller
// is cancelled.
func TestPrerenderInline(t *testing.T) {
	t.Parallel()
	m := cover.Manifest{BookID: "B1", Version: "0123456789ab", Width: 800, Height: 1200}
	newInline := func(l *ctxLadder) *Prerenderer {
		store := newLocalTestStore(t)
		cfg := DefaultPrerenderConfig()
		cfg.Variants = []PrerenderVariant{{Width: 96, Format: cover.WebP}}
		cfg.Timeout = time.Hour
		p, err := NewPrerenderer(cfg, l, store, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	spent, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	l := &ctxLadder{}
	p := newInline(l)
	p.Inline(spent, m, nil)
	if left := time.Until(l.deadline); left < 59*time.Minute {
		t.Errorf("the ladder of an Inline whose caller's deadline passed had %v left, want its own hour", left)
	}
	if p.outcomes[prerenderOK].Get() != 1 {
		t.Errorf("prerender outcomes ok = %d, want 1", p.outcomes[prerenderOK].Get())
	}

	interrupted, interrupt := context.WithCancel(t.Context())
	l = &ctxLadder{hold: true, started: make(chan struct{})}
	p = newInline(l)
	done := make(chan struct{})
	go func() { defer close(done); p.Inline(interrupted, m, nil) }()
	<-l.started
	interrupt()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Inline went on 10 s after its caller was cancelled")
	}
	if !errors.Is(l.err, context.Canceled) {
		t.Errorf("the ladder's context ended with %v, want Canceled", l.err)
	}
}

// TestPrerenderSharedContent: books of one content share its variants: the
// first renders them in one ladder, a later one finds them stored and
// renders nothing (present, each still told to OnStored), books warmed at
// once share one ladder, and a variant missing from the set is the only
// one rendered.
func TestPrerenderSharedContent(t *testing.T) {
	t.Parallel()
	ladder := &fakeLadder{}
	p, store := newPrerenderTest(t, ladder, nil)
	var mu sync.Mutex
	told := map[cover.VariantKey]int{}
	p.OnStored(func(k cover.VariantKey) { mu.Lock(); told[k.Shared()]++; mu.Unlock() })
	content := cover.ContentSum([]byte("shared"))
	of := func(book string) cover.Manifest {
		return cover.Manifest{BookID: book, Version: cover.VersionOf(content), Content: content, Width: 800, Height: 1200}
	}
	if n := p.Prerender(t.Context(), of("B1"), []byte("shared")); n != 4 || ladder.count() != 1 {
		t.Fatalf("first book: %d variants stored in %d ladders, want 4 in 1", n, ladder.count())
	}
	set := of("B1").Variant(96, 0, false, "webp").StorePrefix()
	if keys, err := store.List(t.Context(), set); err != nil || len(keys) != 4 {
		t.Fatalf("stored under %s: %v (%v), want 4 variants", set, keys, err)
	}
	if n := p.Prerender(t.Context(), of("B2"), []byte("shared")); n != 0 || ladder.count() != 1 {
		t.Errorf("second book: %d variants stored, %d ladders; want 0 and still 1", n, ladder.count())
	}
	if got := p.Present(); got != 1 {
		t.Errorf("present outcomes = %d, want 1", got)
	}
	mu.Lock()
	for k, n := range told {
		if n != 2 {
			t.Errorf("OnStored told of %s %d times, want twice (stored, then found)", k, n)
		}
	}
	mu.Unlock()

	// One variant gone from the store: only it is rendered.
	gone := of("B3").Variant(300, 300, false, "avif")
	if err := store.Delete(t.Context(), gone.StoreKey()); err != nil {
		t.Fatal(err)
	}
	if n := p.Prerender(t.Context(), of("B3"), []byte("shared")); n != 1 || ladder.count() != 2 || len(ladder.calls[1]) != 1 ||
		ladder.calls[1][0].Width != 300 || ladder.calls[1][0].Format != cover.AVIF {
		t.Errorf("one variant missing: %d stored, ladder calls %v; want the 300x300 avif alone", n, ladder.calls)
	}

	// Two books of a new content at once: one ladder.
	other := cover.ContentSum([]byte("other"))
	block := make(chan struct{})
	ladder.mu.Lock()
	ladder.block = block
	ladder.mu.Unlock()
	var wg sync.WaitGroup
	for _, book := range []string{"C1", "C2"} {
		wg.Go(func() {
			p.Prerender(t.Context(), cover.Manifest{BookID: book, Version: cover.VersionOf(other), Content: other, Width: 800, Height: 1200}, []byte("other"))
		})
	}
	time.Sleep(50 * time.Millisecond) // both wait on the one ladder
	close(block)
	wg.Wait()
	if ladder.count() != 3 {
		t.Errorf("two books of one content at once: %d ladders in all, want 3 (one for them)", ladder.count())
	}
	if got := p.Present(); got != 2 {
		t.Errorf("present outcomes = %d, want 2", got)
	}
}
