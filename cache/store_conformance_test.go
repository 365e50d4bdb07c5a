package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// runStoreConformance is the behaviour every Store must have. newStore returns
// a fresh, empty store for each subtest (a new directory or a new bucket).
func runStoreConformance(t *testing.T, newStore func(t *testing.T) Store) {
	runConditionalConformance(t, newStore)
	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		all256 := make([]byte, 256)
		for i := range all256 {
			all256[i] = byte(i)
		}
		big := make([]byte, 2<<20)
		rng := rand.New(rand.NewChaCha8([32]byte{7}))
		for i := range big {
			big[i] = byte(rng.Uint32())
		}
		tests := []struct {
			name, key, contentType, wantType string
			data                             []byte
		}{
			{"small with type", "originals/b1/v1", "image/jpeg", "image/jpeg", []byte("not really a jpeg")},
			{"empty type is octet-stream", "a/b/c/d", "", DefaultContentType, []byte{1, 2, 3}},
			{"empty object", "empty", "text/plain", "text/plain", []byte{}},
			{"all 256 byte values", "bin/all-bytes", "application/octet-stream", "application/octet-stream", all256},
			{"2 MiB", "variants/b1/v1/big.webp", "image/webp", "image/webp", big},
			{"unicode and dots in key", "книги/..x/a..b/.hidden", "image/avif", "image/avif", []byte("ok")},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				before := time.Now()
				if err := s.Put(t.Context(), tc.key, tc.data, tc.contentType); err != nil {
					t.Fatalf("Put(%q, %d bytes) = %v, want nil", tc.key, len(tc.data), err)
				}
				got, err := s.Get(t.Context(), tc.key)
				if err != nil {
					t.Fatalf("Get(%q) = %v, want nil", tc.key, err)
				}
				if !bytes.Equal(got.Data, tc.data) {
					t.Errorf("Get(%q).Data: %d bytes differing from the %d put", tc.key, len(got.Data), len(tc.data))
				}
				if got.Size != int64(len(tc.data)) {
					t.Errorf("Get(%q).Size = %d, want %d", tc.key, got.Size, len(tc.data))
				}
				if got.ContentType != tc.wantType {
					t.Errorf("Get(%q).ContentType = %q, want %q", tc.key, got.ContentType, tc.wantType)
				}
				if got.ModTime.Before(before.Add(-time.Minute)) || got.ModTime.After(time.Now().Add(time.Minute)) {
					t.Errorf("Get(%q).ModTime = %v, want about %v", tc.key, got.ModTime, before)
				}
				st, err := s.Stat(t.Context(), tc.key)
				if err != nil || st.Data != nil || st.Size != got.Size || st.ContentType != got.ContentType || st.ETag != got.ETag || st.ETag == "" {
					t.Errorf("Stat(%q) = %d bytes of data, size %d, %q, ETag %q, %v; want no data and Get's size %d, %q, ETag %q",
						tc.key, len(st.Data), st.Size, st.ContentType, st.ETag, err, got.Size, got.ContentType, got.ETag)
				}
			})
		}
	})

	t.Run("Overwrite", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		mustPutObject(t, s, "k/overwrite", []byte("first version, longer than the second"), "image/jpeg")
		mustPutObject(t, s, "k/overwrite", []byte("second"), "image/png")
		got, err := s.Get(ctx, "k/overwrite")
		if err != nil {
			t.Fatalf("Get after overwrite = %v, want nil", err)
		}
		if string(got.Data) != "second" || got.ContentType != "image/png" || got.Size != 6 {
			t.Errorf("Get after overwrite = (%q, %q, %d), want (\"second\", \"image/png\", 6)", got.Data, got.ContentType, got.Size)
		}
	})

	t.Run("NotFoundAndDelete", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		if _, err := s.Get(ctx, "missing/key"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(missing) = %v, want ErrNotFound", err)
		}
		mustPutObject(t, s, "del/me", []byte("x"), "text/plain")
		mustPutObject(t, s, "del/keep", []byte("y"), "text/plain")
		if err := s.Delete(ctx, "del/me"); err != nil {
			t.Fatalf("Delete(existing) = %v, want nil", err)
		}
		if _, err := s.Get(ctx, "del/me"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get after Delete = %v, want ErrNotFound", err)
		}
		for _, key := range []string{"del/me", "missing/key", "del/keep/below-an-object"} {
			if _, err := s.Stat(ctx, key); !errors.Is(err, ErrNotFound) {
				t.Errorf("Stat(missing %q) = %v, want ErrNotFound", key, err)
			}
		}
		if _, err := s.Get(ctx, "del/keep"); err != nil {
			t.Errorf("Get(sibling of deleted) = %v, want nil", err)
		}
		for _, key := range []string{"del/me", "never/existed", "del/keep/below-an-object"} {
			if err := s.Delete(ctx, key); err != nil {
				t.Errorf("Delete(missing %q) = %v, want nil", key, err)
			}
		}
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		// No key is also a prefix of another key: MinIO refuses "p" next to "p/a".
		for _, k := range []string{"p/b/d", "q/a", "p/a", "pz", "p/b/c", "pa.webp", "p/gone"} {
			mustPutObject(t, s, k, []byte(k), "text/plain")
		}
		if err := s.Delete(ctx, "p/gone"); err != nil {
			t.Fatalf("Delete(p/gone) = %v", err)
		}
		tests := []struct {
			prefix string
			want   []string
		}{
			{"p/", []string{"p/a", "p/b/c", "p/b/d"}},
			{"p/b/", []string{"p/b/c", "p/b/d"}},
			{"p/b", []string{"p/b/c", "p/b/d"}},
			{"p", []string{"p/a", "p/b/c", "p/b/d", "pa.webp", "pz"}},
			{"pa", []string{"pa.webp"}},
			{"", []string{"p/a", "p/b/c", "p/b/d", "pa.webp", "pz", "q/a"}},
			{"q/a", []string{"q/a"}},
			{"none/", nil},
			{"p/b/c/", nil},
		}
		for _, tc := range tests {
			got, err := s.List(ctx, tc.prefix)
			if err != nil {
				t.Errorf("List(%q) = %v, want nil error", tc.prefix, err)
				continue
			}
			if len(got) != 0 || len(tc.want) != 0 {
				if !slices.Equal(got, tc.want) {
					t.Errorf("List(%q) = %q, want %q", tc.prefix, got, tc.want)
				}
			}
		}
	})

	t.Run("InvalidKeys", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		keys := []string{"../x", "/abs", "a/../../b", "", "a\\b", "a\x00b", "a//b", "a/", "./a", "a/.", "..",
			strings.Repeat("k", MaxKeyLength+1)}
		for _, key := range keys {
			if err := s.Put(ctx, key, []byte("x"), "text/plain"); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
			}
			if _, err := s.Get(ctx, key); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("Get(%q) = %v, want ErrInvalidKey", key, err)
			}
			if err := s.Delete(ctx, key); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("Delete(%q) = %v, want ErrInvalidKey", key, err)
			}
		}
		if got, err := s.List(ctx, ""); err != nil || len(got) != 0 {
			t.Errorf("List(\"\") after invalid puts = %q, %v; want nothing stored", got, err)
		}
		if err := s.Put(ctx, "ok", []byte("x"), "text/plain\nX-Injected: 1"); !errors.Is(err, ErrInvalidContentType) {
			t.Errorf("Put with newline in content type = %v, want ErrInvalidContentType", err)
		}
	})

	t.Run("ConcurrentPutGetNeverPartial", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		const writers, rounds, key = 16, 8, "race/cover.bin"
		values := make([][]byte, writers)
		for i := range values {
			values[i] = bytes.Repeat([]byte{byte('a' + i)}, 32<<10+i*977)
		}
		typeOf := func(i int) string { return fmt.Sprintf("application/x-writer-%d", i) }
		mustPutObject(t, s, key, values[0], typeOf(0))
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for range rounds {
					if err := s.Put(t.Context(), key, values[w], typeOf(w)); err != nil {
						t.Errorf("writer %d: Put = %v", w, err)
						return
					}
					got, err := s.Get(t.Context(), key)
					if err != nil {
						t.Errorf("writer %d: Get = %v", w, err)
						return
					}
					i := -1
					if len(got.Data) > 0 {
						i = int(got.Data[0]) - 'a'
					}
					if i < 0 || i >= writers || !bytes.Equal(got.Data, values[i]) || got.ContentType != typeOf(i) ||
						got.Size != int64(len(values[i])) {
						t.Errorf("writer %d: Get returned %d bytes of type %q: not one of the written objects", w, len(got.Data), got.ContentType)
						return
					}
				}
			})
		}
		wg.Wait()
	})

	t.Run("CancelledContextFailsFast", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		ops := map[string]func() error{
			"Put":    func() error { return s.Put(ctx, "cancel/k", []byte("x"), "text/plain") },
			"Get":    func() error { _, err := s.Get(ctx, "cancel/k"); return err },
			"Delete": func() error { return s.Delete(ctx, "cancel/k") },
			"List":   func() error { _, err := s.List(ctx, ""); return err },
			"Ping":   func() error { return s.Ping(ctx) },
		}
		for name, op := range ops {
			start := time.Now()
			err := op()
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s(cancelled ctx) = %v, want context.Canceled", name, err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("%s(cancelled ctx) took %v, want it to fail at once", name, d)
			}
		}
		if _, err := s.Get(t.Context(), "cancel/k"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get after Put with cancelled ctx = %v, want ErrNotFound (nothing written)", err)
		}
		expired, cancelExpired := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
		defer cancelExpired()
		if _, err := s.Get(expired, "cancel/k"); !errors.Is(err, ErrTimeout) {
			t.Errorf("Get(expired deadline) = %v, want ErrTimeout", err)
		}
	})

	t.Run("Ping", func(t *testing.T) {
		t.Parallel()
		if err := newStore(t).Ping(t.Context()); err != nil {
			t.Errorf("Ping = %v, want nil", err)
		}
	})

	t.Run("Metrics", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		m, ok := s.(interface{ Metrics() *metrics.Set })
		if !ok {
			t.Fatalf("%T has no Metrics() *metrics.Set method", s)
		}
		ctx := t.Context()
		mustPutObject(t, s, "m/k", []byte("x"), "text/plain")
		_, _ = s.Get(ctx, "m/k")
		_, _ = s.Get(ctx, "m/missing")
		_, _ = s.Get(ctx, "../bad")
		_, _ = s.List(ctx, "m/")
		_ = s.Delete(ctx, "m/k")
		_ = s.Ping(ctx)
		got := scrapeStoreMetrics(m.Metrics())
		want := map[string]float64{
			`covers_store_operations_total{op="put",result="ok"}`:        1,
			`covers_store_operations_total{op="get",result="ok"}`:        1,
			`covers_store_operations_total{op="get",result="not_found"}`: 1,
			`covers_store_operations_total{op="get",result="error"}`:     1,
			`covers_store_operations_total{op="list",result="ok"}`:       1,
			`covers_store_operations_total{op="delete",result="ok"}`:     1,
			`covers_store_operations_total{op="ping",result="ok"}`:       1,
			`covers_store_operations_total{op="ping",result="error"}`:    0,
			`covers_store_operation_duration_seconds_count{op="get"}`:    3,
			`covers_store_operation_duration_seconds_count{op="put"}`:    1,
		}
		for name, w := range want {
			if v, ok := got[name]; !ok || v != w {
				t.Errorf("metric %s = %v (present %v), want %v", name, v, ok, w)
			}
		}
	})
}

func mustPutObject(t *testing.T, s Store, key string, data []byte, contentType string) {
	t.Helper()
	if err := s.Put(t.Context(), key, data, contentType); err != nil {
		t.Fatalf("Put(%q) = %v, want nil", key, err)
	}
}

// scrapeStoreMetrics returns the Prometheus exposition of set as name{labels} -> value.
func scrapeStoreMetrics(set *metrics.Set) map[string]float64 {
	var buf bytes.Buffer
	set.WritePrometheus(&buf)
	out := make(map[string]float64)
	for line := range strings.Lines(buf.String()) {
		name, value, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(value, &v); err == nil {
			out[name] = v
		}
	}
	return out
}

func TestValidKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		key   string
		valid bool
	}{
		{"simple", "a", true},
		{"service layout", "variants/b1/abc123/320x480.webp", true},
		{"dots inside segments", "a..b/..c/d../.e", true},
		{"unicode", "книги/обложка.jpg", true},
		{"max length", strings.Repeat("k", MaxKeyLength), true},
		{"empty", "", false},
		{"too long", strings.Repeat("k", MaxKeyLength+1), false},
		{"absolute", "/a", false},
		{"parent", "../x", false},
		{"parent inside", "a/../../b", false},
		{"only parent", "..", false},
		{"dot segment", "a/./b", false},
		{"empty segment", "a//b", false},
		{"trailing slash", "a/", false},
		{"backslash", "a\\b", false},
		{"NUL", "a\x00b", false},
		{"newline", "a\nb", false},
		{"DEL", "a\x7fb", false},
		{"invalid UTF-8", "a\xffb", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidKey(tc.key)
			if tc.valid && err != nil {
				t.Errorf("ValidKey(%q) = %v, want nil", tc.key, err)
			}
			if !tc.valid && !errors.Is(err, ErrInvalidKey) {
				t.Errorf("ValidKey(%q) = %v, want ErrInvalidKey", tc.key, err)
			}
		})
	}
}
