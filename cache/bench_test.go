package cache

import (
	"context"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
)

func benchLocalStore(b *testing.B) *LocalStore {
	b.Helper()
	s, err := NewLocalStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkVariantsHit reads one cached 12 KB variant: from the hot index,
// and from groupcache alone (a hot index too small to hold it), by a book
// key and by the key of a cover stored by content (as a request for a
// cover warmed since content keys asks).
func BenchmarkVariantsHit(b *testing.B) {
	body := make([]byte, 12<<10)
	fill := func(context.Context, cover.VariantKey) ([]byte, error) { return body, nil }
	content := cover.ContentSum([]byte("bench"))
	byContent := cover.Manifest{BookID: "B1", Version: cover.VersionOf(content), Content: content}.Variant(320, 0, false, "webp")
	cases := []struct {
		name     string
		hotBytes int64
		key      cover.VariantKey
	}{
		{"hot_index", 0, testVariantKey},
		{"groupcache", 1, testVariantKey},
		{"hot_index_content", 0, byContent},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			v := newTestVariants(b, benchLocalStore(b), fill, func(cfg *VariantsConfig) { cfg.HotBytes = c.hotBytes })
			ctx := context.Background()
			if _, err := v.GetVariant(ctx, c.key); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				got, err := v.GetVariant(ctx, c.key)
				if err != nil || len(got.Bytes) != len(body) {
					b.Fatalf("GetVariant = %d bytes, %v", len(got.Bytes), err)
				}
			}
		})
	}
}

// BenchmarkManifestsCurrent resolves a book whose manifest is cached.
func BenchmarkManifestsCurrent(b *testing.B) {
	ms := NewManifests(benchLocalStore(b), time.Hour, time.Second)
	ctx := context.Background()
	if err := ms.Put(ctx, cover.Manifest{BookID: "B1", Version: "3f9a1c2b7d4e", UpdatedAt: time.Unix(1_790_000_000, 0)}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if m, err := ms.Current(ctx, "B1"); err != nil || m.Version != "3f9a1c2b7d4e" {
			b.Fatalf("Current = %+v, %v", m, err)
		}
	}
}

// BenchmarkVariantKey builds and parses the groupcache key of a variant.
func BenchmarkVariantKey(b *testing.B) {
	k := cover.VariantKey{BookID: "B123", Version: "3f9a1c2b7d4e", Width: 320, Height: 480, Format: "webp"}
	b.Run("string", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = k.String()
		}
	})
	b.Run("parse", func(b *testing.B) {
		s := k.String()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := cover.ParseVariantKey(s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
