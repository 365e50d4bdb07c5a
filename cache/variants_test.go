package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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

func (f *countingFill) fill(_ context.Context, key VariantKey) ([]byte, error) {
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
	return v
}

var testVariantKey = VariantKey{BookID: "B1", Version: "3f9a1c2b7d4e", Width: 320, Format: "webp"}

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

func TestHotIndexStaysWithinItsBound(t *testing.T) {
	t.Parallel()
	h := newHotIndex(10_000)
	for i := range 100 {
		h.add(VariantKey{BookID: "B", Version: "v", Width: 16 + i, Format: "webp"}, Variant{Bytes: make([]byte, 1000)})
		if h.size() > 10_000 {
			t.Fatalf("after %d adds: %d bytes, over the 10000 bound", i+1, h.size())
		}
	}
	if len(h.m) != 10 {
		t.Errorf("entries = %d, want 10 of 1000 bytes", len(h.m))
	}
	h.add(VariantKey{BookID: "B", Version: "v", Width: 1, Format: "webp"}, Variant{Bytes: make([]byte, 5000)})
	if _, ok := h.get(VariantKey{BookID: "B", Version: "v", Width: 1, Format: "webp"}); ok {
		t.Error("a variant larger than a quarter of the bound was indexed")
	}
}
