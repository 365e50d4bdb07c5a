package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
)

// variantsGroupSeq keeps groupcache group names unique in the test binary.
var variantsGroupSeq atomic.Int64

// slowPutStore holds every Put until release is closed and counts Puts done.
type slowPutStore struct {
	Store
	release chan struct{}
	puts    atomic.Int64
}

func (s *slowPutStore) Put(ctx context.Context, key string, data []byte, ct string) error {
	if s.release != nil {
		select {
		case <-s.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer s.puts.Add(1)
	return s.Store.Put(ctx, key, data, ct)
}

// countingFill renders "variant <key>" and counts its calls.
type countingFill struct{ calls atomic.Int64 }

func (f *countingFill) fill(_ context.Context, key cover.VariantKey) ([]byte, error) {
	f.calls.Add(1)
	return []byte("variant " + key.String()), nil
}

func newTestVariants(tb testing.TB, store Store, fill FillFunc, mutate func(*VariantsConfig)) *Variants {
	tb.Helper()
	cfg := DefaultVariantsConfig()
	cfg.GroupName = fmt.Sprintf("variants-test-%d", variantsGroupSeq.Add(1))
	cfg.CacheBytes = 8 << 20
	if mutate != nil {
		mutate(&cfg)
	}
	v, err := NewVariants(cfg, store, fill, storeTestLogger())
	if err != nil {
		tb.Fatalf("NewVariants(%+v): %v", cfg, err)
	}
	useNewGroup(tb, cfg.GroupName, v)
	// Writes behind a response may outlive the test: let them finish before
	// the test's temporary store directory is removed (cleanups run last
	// registered first, and the store's directory was made before this).
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = v.Flush(ctx)
	})
	return v
}

var testVariantKey = cover.VariantKey{BookID: "B1", Version: "3f9a1c2b7d4e", Width: 320, Format: "webp"}

func TestVariantsServeRepeatedHitsFromMemory(t *testing.T) {
	cases := []struct {
		name     string
		hotBytes int64 // 1: the hot index keeps nothing, every hit goes through groupcache
	}{
		{"hot index", 0},
		{"groupcache only", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := &countingFill{}
			v := newTestVariants(t, newLocalTestStore(t, t.TempDir()), f.fill, func(cfg *VariantsConfig) { cfg.HotBytes = c.hotBytes })
			want := []byte("variant " + testVariantKey.String())
			for i := range 3 {
				got, err := v.GetVariant(t.Context(), testVariantKey)
				if err != nil || !bytes.Equal(got.Bytes, want) || got.Tag != Tag(want) {
					t.Fatalf("GetVariant #%d = %q %s, %v; want %q %s", i, got.Bytes, got.Tag, err, want, Tag(want))
				}
			}
			if n := f.calls.Load(); n != 1 {
				t.Errorf("fills = %d, want 1", n)
			}
			if hit, miss := v.memHit.Get(), v.memMiss.Get(); hit != 2 || miss != 1 {
				t.Errorf("memory hits/misses = %d/%d, want 2/1", hit, miss)
			}
		})
	}
}

func TestVariantsConcurrentMissesFillOnce(t *testing.T) {
	t.Parallel()
	f := &countingFill{}
	v := newTestVariants(t, newLocalTestStore(t, t.TempDir()), f.fill, nil)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := v.Get(t.Context(), testVariantKey); err != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := f.calls.Load(); n != 1 || failed.Load() != 0 {
		t.Errorf("50 concurrent Gets: %d fills, %d errors; want 1 and 0", n, failed.Load())
	}
}

func TestVariantsWriteBehind(t *testing.T) {
	cases := []struct {
		name        string
		writeBehind int
		wantBehind  bool // the response comes before the store write
	}{
		{"behind the response", 4, true},
		{"no slots: before the response", 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			local := newLocalTestStore(t, t.TempDir())
			s := &slowPutStore{Store: local, release: make(chan struct{})}
			f := &countingFill{}
			v := newTestVariants(t, s, f.fill, func(cfg *VariantsConfig) { cfg.WriteBehind = c.writeBehind })
			got := make(chan error, 1)
			go func() { _, err := v.Get(t.Context(), testVariantKey); got <- err }()
			select {
			case err := <-got:
				if !c.wantBehind {
					t.Fatalf("Get returned (%v) before the store write was released", err)
				}
				if err != nil {
					t.Fatal(err)
				}
				if n := s.puts.Load(); n != 0 {
					t.Fatalf("puts = %d before release, want 0", n)
				}
				close(s.release)
			case <-time.After(200 * time.Millisecond):
				if c.wantBehind {
					t.Fatal("Get waited for the store write")
				}
				close(s.release)
				if err := <-got; err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			if err := v.Flush(ctx); err != nil {
				t.Fatalf("Flush = %v", err)
			}
			if _, err := local.Get(t.Context(), testVariantKey.StoreKey()); err != nil || s.puts.Load() != 1 {
				t.Errorf("after Flush: store Get = %v, puts %d; want the variant stored once", err, s.puts.Load())
			}
		})
	}
}

func TestVariantsFlushGivesUpWithItsContext(t *testing.T) {
	t.Parallel()
	s := &slowPutStore{Store: newLocalTestStore(t, t.TempDir()), release: make(chan struct{})}
	defer close(s.release)
	f := &countingFill{}
	v := newTestVariants(t, s, f.fill, nil)
	if _, err := v.Get(t.Context(), testVariantKey); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := v.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush with a write pending = %v, want DeadlineExceeded", err)
	}
}

// countingGetStore counts Gets and can hold them until release closes.
type countingGetStore struct {
	Store
	gets    atomic.Int64
	release chan struct{}
}

func (s *countingGetStore) Get(ctx context.Context, key string) (Object, error) {
	s.gets.Add(1)
	if s.release != nil {
		<-s.release
	}
	return s.Store.Get(ctx, key)
}

func TestVariantsShedBeforeTheStore(t *testing.T) {
	t.Parallel()
	errBusy := errors.New("busy")
	s := &countingGetStore{Store: newLocalTestStore(t, t.TempDir())}
	f := &countingFill{}
	var busy atomic.Bool
	v := newTestVariants(t, s, f.fill, func(cfg *VariantsConfig) {
		cfg.Shed = func(int) error {
			if busy.Load() {
				return errBusy
			}
			return nil
		}
	})
	if _, err := v.Get(t.Context(), testVariantKey); err != nil {
		t.Fatal(err)
	}
	busy.Store(true)
	if _, err := v.Get(t.Context(), testVariantKey); err != nil {
		t.Errorf("memory hit while shedding = %v, want it served", err)
	}
	other := testVariantKey
	other.Width = 640
	gets := s.gets.Load()
	if _, err := v.Get(t.Context(), other); !errors.Is(err, errBusy) {
		t.Errorf("new variant while shedding = %v, want errBusy", err)
	}
	if n := s.gets.Load() - gets; n != 0 || f.calls.Load() != 1 || v.shedTotal.Get() != 1 {
		t.Errorf("shed request: %d store reads, %d fills in all, %d counted shed; want 0, 1, 1", n, f.calls.Load(), v.shedTotal.Get())
	}
	busy.Store(false)
	if _, err := v.Get(t.Context(), other); err != nil || f.calls.Load() != 2 {
		t.Errorf("after the queue drained: %v with %d fills, want the variant rendered", err, f.calls.Load())
	}
}

func TestVariantsShedSeesLoadsReadingTheStore(t *testing.T) {
	t.Parallel()
	s := &countingGetStore{Store: newLocalTestStore(t, t.TempDir()), release: make(chan struct{})}
	f := &countingFill{}
	seen := make(chan int, 2)
	v := newTestVariants(t, s, f.fill, func(cfg *VariantsConfig) {
		cfg.Shed = func(pending int) error { seen <- pending; return nil }
	})
	done := make(chan error, 2)
	go func() { _, err := v.Get(t.Context(), testVariantKey); done <- err }()
	if got := <-seen; got != 0 {
		t.Errorf("first load: Shed(%d), want 0", got)
	}
	for s.gets.Load() == 0 {
		time.Sleep(time.Millisecond) // the first load is now reading the store
	}
	other := testVariantKey
	other.Width = 640
	go func() { _, err := v.Get(t.Context(), other); done <- err }()
	if got := <-seen; got != 1 {
		t.Errorf("second load while the first reads the store: Shed(%d), want 1", got)
	}
	close(s.release)
	for range 2 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestVariantsShareContentKeysAcrossBooks: two books of one content asking
// for the same size are one render, one stored object and one copy of the
// bytes in memory (each book's entry of the hot index shares them); a
// book's versioned key finds them from memory (Cached) once that book was
// served by content, and not before.
func TestVariantsShareContentKeysAcrossBooks(t *testing.T) {
	t.Parallel()
	local := newLocalTestStore(t, t.TempDir())
	f := &countingFill{}
	v := newTestVariants(t, local, f.fill, nil)
	content := cover.ContentSum([]byte("shared"))
	m := func(book string) cover.Manifest {
		return cover.Manifest{BookID: book, Version: cover.VersionOf(content), Content: content, Width: 600, Height: 900}
	}
	a, err := v.GetVariant(t.Context(), m("A").Variant(320, 0, false, "webp"))
	if err != nil {
		t.Fatal(err)
	}
	bookB := cover.VariantKey{BookID: "B", Version: cover.VersionOf(content), Width: 320, Format: "webp"}
	if _, ok := v.Cached(bookB); ok {
		t.Error("Cached found book B's version before B was served by content")
	}
	b, err := v.GetVariant(t.Context(), m("B").Variant(320, 0, false, "webp"))
	if err != nil || !bytes.Equal(a.Bytes, b.Bytes) || f.calls.Load() != 1 {
		t.Fatalf("second book: %q, %v after %d renders; want the first book's bytes, 1 render", b.Bytes, err, f.calls.Load())
	}
	if want := "variant @" + content + "/320.webp"; string(a.Bytes) != want {
		t.Errorf("rendered %q, want the content key's render %q", a.Bytes, want)
	}
	if err := v.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if keys, err := local.List(t.Context(), ""); err != nil || len(keys) != 1 || keys[0] != "content/"+content+"/variants/320.webp" {
		t.Errorf("stored = %v (%v), want the one content variant", keys, err)
	}
	if got, ok := v.Cached(bookB); !ok || !bytes.Equal(got.Bytes, a.Bytes) {
		t.Errorf("Cached(book B's versioned key) = %v; want the content variant from memory", ok)
	}
	if _, ok := v.Cached(cover.VariantKey{BookID: "C", Version: cover.VersionOf(content), Width: 320, Format: "webp"}); ok {
		t.Error("Cached found a book never served")
	}
	if hb, err := v.GetVariant(t.Context(), m("B").Variant(320, 0, false, "webp")); err != nil || &hb.Bytes[0] != &a.Bytes[0] || f.calls.Load() != 1 {
		t.Errorf("book B's hit: %v, shares A's bytes %v, %d renders; want the same bytes, 1 render", err, err == nil && &hb.Bytes[0] == &a.Bytes[0], f.calls.Load())
	}
}

// A trimmed cover's versioned URL, whose key has no trim box (the manifest
// that has it cannot be read), is answered from memory with the box the
// replica served that version with, never with another box's variant.
func TestVariantsCachedFindsTheTrimmedVariant(t *testing.T) {
	t.Parallel()
	f := &countingFill{}
	v := newTestVariants(t, newLocalTestStore(t, t.TempDir()), f.fill, nil)
	content := cover.ContentSum([]byte("scanned"))
	m := cover.Manifest{BookID: "T", Version: cover.VersionOf(content), Content: content, Width: 600, Height: 900,
		Trim: cover.Rect{Left: 10, Top: 12, Width: 580, Height: 870}}
	served, err := v.GetVariant(t.Context(), m.Variant(320, 0, false, "webp"))
	if err != nil {
		t.Fatal(err)
	}
	fromURL := cover.VariantKey{BookID: "T", Version: m.Version, Width: 320, Format: "webp"}
	if got, ok := v.Cached(fromURL); !ok || !bytes.Equal(got.Bytes, served.Bytes) {
		t.Errorf("Cached(versioned key without the box) = %q, %v; want the trimmed variant %q", got.Bytes, ok, served.Bytes)
	}
	if !strings.Contains(string(served.Bytes), "trim-10-12-580x870") {
		t.Errorf("served %q, want the trimmed key's render", served.Bytes)
	}
}
