package cache

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// placeholderFill renders "placeholder <key>", counts its calls per key and,
// when gate is set, holds every render until it is closed.
type placeholderFill struct {
	gate  chan struct{}
	calls atomic.Int64
	mu    sync.Mutex
	byKey map[PlaceholderKey]int
}

func (f *placeholderFill) fill(ctx context.Context, key PlaceholderKey) ([]byte, error) {
	f.calls.Add(1)
	f.mu.Lock()
	if f.byKey == nil {
		f.byKey = map[PlaceholderKey]int{}
	}
	f.byKey[key]++
	f.mu.Unlock()
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return []byte("placeholder " + key.String()), nil
}

func newTestPlaceholders(tb testing.TB, fill PlaceholderFillFunc) *Placeholders {
	tb.Helper()
	cfg := DefaultPlaceholdersConfig()
	cfg.GroupName = fmt.Sprintf("placeholders-test-%d", variantsGroupSeq.Add(1))
	p, err := NewPlaceholders(cfg, fill)
	if err != nil {
		tb.Fatalf("NewPlaceholders(%+v): %v", cfg, err)
	}
	useNewGroup(tb, cfg.GroupName, p)
	return p
}

func TestPlaceholderKeyString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		key  PlaceholderKey
		want string
	}{
		{"width", PlaceholderKey{Entry: 0, Width: 320, Format: "webp"}, "p0/320.webp"},
		{"box", PlaceholderKey{Entry: 15, Width: 200, Height: 300, Format: "avif"}, "p15/200x300.avif"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.key.String(); got != tc.want {
				t.Fatalf("%+v.String() = %q; want %q", tc.key, got, tc.want)
			}
			back, err := ParsePlaceholderKey(tc.want)
			if err != nil || back != tc.key {
				t.Fatalf("ParsePlaceholderKey(%q) = %+v, %v; want %+v", tc.want, back, err, tc.key)
			}
		})
	}
}

func TestParsePlaceholderKeyRefuses(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"", "p", "p0", "p0/", "0/320.webp", "q0/320.webp", "p/320.webp", "p-1/320.webp", "p+1/320.webp",
		"p01/320.webp", "p0/0320.webp", "p0/320", "p0/x.webp", "p0/320x0.webp", "p0/320.webp/x",
		"B1/3f9a1c2b7d4e/320.webp", // a real variant key
	} {
		if k, err := ParsePlaceholderKey(s); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ParsePlaceholderKey(%q) = %+v, %v; want ErrInvalidKey", s, k, err)
		}
	}
}

// Any string either fails to parse or is the canonical form of its key.
func FuzzParsePlaceholderKey(f *testing.F) {
	for _, s := range []string{"p0/320.webp", "p15/200x300.avif", "p/x", "p9999999999999999999999/1.webp", "p1/1x1.a/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParsePlaceholderKey(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("ParsePlaceholderKey(%q) error %v does not wrap ErrInvalidKey", s, err)
			}
			return
		}
		if k.String() != s || k.Entry < 0 || k.Width <= 0 || k.Height < 0 {
			t.Fatalf("ParsePlaceholderKey(%q) = %+v (String %q); want a valid key that prints as the input", s, k, k.String())
		}
	})
}

// The entry is stable, in range, and 1,000 ids use every entry.
func TestPlaceholderEntry(t *testing.T) {
	t.Parallel()
	if a, b := PlaceholderEntry("9780141439518", 16), PlaceholderEntry("9780141439518", 16); a != b {
		t.Fatalf("PlaceholderEntry of one id = %d then %d; want the same", a, b)
	}
	seen := map[int]int{}
	for i := range 1000 {
		e := PlaceholderEntry(fmt.Sprintf("UNKNOWN-%d", i), 16)
		if e < 0 || e >= 16 {
			t.Fatalf("PlaceholderEntry(UNKNOWN-%d, 16) = %d; want 0..15", i, e)
		}
		seen[e]++
	}
	if len(seen) != 16 {
		t.Fatalf("1000 ids used %d of 16 entries (%v); want all", len(seen), seen)
	}
	for _, id := range []string{"", "B1", "9780141439518"} {
		h := fnv.New32a()
		h.Write([]byte(id))
		if got, want := PlaceholderEntry(id, 16), int(h.Sum32()%16); got != want {
			t.Fatalf("PlaceholderEntry(%q, 16) = %d; want FNV-1a %% 16 = %d", id, got, want)
		}
	}
	if e := PlaceholderEntry("anything", 1); e != 0 {
		t.Fatalf("PlaceholderEntry with 1 entry = %d; want 0", e)
	}
}

func TestPlaceholdersConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*PlaceholdersConfig)
		want   string // "" for valid
	}{
		{"default", func(*PlaceholdersConfig) {}, ""},
		{"no group", func(c *PlaceholdersConfig) { c.GroupName = "" }, "group name"},
		{"no memory", func(c *PlaceholdersConfig) { c.CacheBytes = 0 }, "cache bytes"},
		{"no timeout", func(c *PlaceholdersConfig) { c.FillTimeout = 0 }, "fill timeout"},
		{"no entries", func(c *PlaceholdersConfig) { c.Entries = 0 }, "entries"},
		{"too many entries", func(c *PlaceholdersConfig) { c.Entries = MaxPlaceholderEntries + 1 }, "entries"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := DefaultPlaceholdersConfig()
			tc.mutate(&c)
			err := c.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate(%+v) = %v; want an error naming %q", c, err, tc.want)
			}
		})
	}
}

// 1,000 books without a cover, asked for 16 at a time at two sizes and
// formats, cost one render per entry, size and format; 1,000 requests for
// one book cost one render. Books of one entry share the bytes.
func TestPlaceholdersRenderOncePerEntry(t *testing.T) {
	t.Parallel()
	f := &placeholderFill{}
	p := newTestPlaceholders(t, f.fill)
	type size struct {
		w, h   int
		format string
	}
	sizes := []size{{160, 0, "webp"}, {200, 300, "avif"}}
	get := func(n int, book func(i int) string, s size) {
		t.Helper()
		var wg sync.WaitGroup
		work := make(chan int)
		errs := make(chan error, n)
		for range 16 {
			wg.Go(func() {
				for i := range work {
					b := book(i)
					v, err := p.Placeholder(t.Context(), b, s.w, s.h, s.format)
					want := "placeholder " + p.Key(b, s.w, s.h, s.format).String()
					if err != nil || string(v.Bytes) != want || v.Tag != Tag(v.Bytes) {
						errs <- fmt.Errorf("Placeholder(%s, %d, %d, %s) = %q %s, %v; want %q", b, s.w, s.h, s.format, v.Bytes, v.Tag, err, want)
					}
				}
			})
		}
		for i := range n {
			work <- i
		}
		close(work)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	for _, s := range sizes {
		get(1000, func(i int) string { return fmt.Sprintf("UNKNOWN-%d", i) }, s)
	}
	for k, n := range f.byKey {
		if n != 1 {
			t.Errorf("key %s rendered %d times; want once", k, n)
		}
	}
	if got, limit := f.calls.Load(), int64(16*len(sizes)); got > limit {
		t.Fatalf("1000 books at %d sizes: %d renders; want at most %d", len(sizes), got, limit)
	}

	before := f.calls.Load()
	get(1000, func(int) string { return "ONE-UNKNOWN-BOOK" }, size{240, 0, "webp"})
	if got := f.calls.Load() - before; got != 1 {
		t.Fatalf("1000 requests for one book: %d renders; want 1", got)
	}
}

// Concurrent requests for one placeholder share its render, and a waiter
// that gives up does not fail the others.
func TestPlaceholdersShareARenderInFlight(t *testing.T) {
	t.Parallel()
	f := &placeholderFill{gate: make(chan struct{})}
	p := newTestPlaceholders(t, f.fill)
	impatient, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Placeholder(impatient, "B1", 320, 0, "webp"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Placeholder with a 50ms context and the render held = %v; want DeadlineExceeded", err)
	}
	var wg sync.WaitGroup
	results := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := p.Placeholder(t.Context(), "B1", 320, 0, "webp")
			results <- err
		})
	}
	time.Sleep(50 * time.Millisecond) // the waiters join the render in flight
	close(f.gate)
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Fatalf("Placeholder after the render was released = %v; want the placeholder", err)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("9 requests for one placeholder, one of them gone: %d renders; want 1", n)
	}
}

func TestPlaceholdersMetrics(t *testing.T) {
	t.Parallel()
	f := &placeholderFill{}
	p := newTestPlaceholders(t, f.fill)
	for range 3 {
		if _, err := p.Placeholder(t.Context(), "B1", 64, 0, "webp"); err != nil {
			t.Fatalf("Placeholder: %v", err)
		}
	}
	var buf strings.Builder
	p.Metrics().WritePrometheus(&buf)
	for _, want := range []string{
		`covers_cache_placeholder_lookups_total{result="render"} 1`,
		`covers_cache_placeholder_lookups_total{result="hit"} 2`,
		`covers_cache_placeholder_lookups_total{result="error"} 0`,
	} {
		if !strings.Contains(buf.String(), want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, buf.String())
		}
	}
}

// BenchmarkPlaceholdersHit: a placeholder already in memory, for one book
// and for many books of the same entries (the hash of the id included).
func BenchmarkPlaceholdersHit(b *testing.B) {
	f := &placeholderFill{}
	p := newTestPlaceholders(b, f.fill)
	books := make([]string, 1024)
	for i := range books {
		books[i] = fmt.Sprintf("UNKNOWN-%d", i)
		if _, err := p.Placeholder(b.Context(), books[i], 320, 0, "webp"); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("one book", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Placeholder(b.Context(), books[0], 320, 0, "webp"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("many books", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := p.Placeholder(b.Context(), books[i%len(books)], 320, 0, "webp"); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
