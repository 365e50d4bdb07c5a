package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
)

// prefixReads counts the reads of keys under one prefix.
type prefixReads struct {
	Store
	prefix string
	reads  atomic.Int64
}

func (s *prefixReads) Get(ctx context.Context, key string) (Object, error) {
	if strings.HasPrefix(key, s.prefix) {
		s.reads.Add(1)
	}
	return s.Store.Get(ctx, key)
}

// listingStore counts variant reads and listings, and can fail listings or
// answer them with a full page.
type listingStore struct {
	*prefixReads // of variants
	lists        atomic.Int64
	failList     atomic.Bool
	fullPage     atomic.Bool
}

func newListingStore(t *testing.T) *listingStore {
	return &listingStore{prefixReads: &prefixReads{Store: newLocalTestStore(t, t.TempDir()), prefix: cover.VariantsPrefix()}}
}

func (s *listingStore) ListPage(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	s.lists.Add(1)
	if s.failList.Load() {
		return nil, errors.New("listing refused")
	}
	if s.fullPage.Load() {
		keys := make([]string, limit)
		for i := range keys {
			keys[i] = fmt.Sprintf("%s%d.webp", prefix, 10000+i)
		}
		return keys, nil
	}
	return s.Store.ListPage(ctx, prefix, after, limit)
}

func sizeKey(width int, format string) cover.VariantKey {
	k := testVariantKey
	k.Width, k.Format = width, format
	return k
}

// settle waits for the listings and the writes behind responses.
func settle(t *testing.T, v *Variants) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := v.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func getVariant(t *testing.T, v *Variants, key cover.VariantKey) {
	t.Helper()
	if _, err := v.Get(t.Context(), key); err != nil {
		t.Fatalf("Get %s: %v", key, err)
	}
}

func TestStoredIndexSkipsTheStoreReadOfVariantsItKnowsAreAbsent(t *testing.T) {
	t.Parallel()
	s := newListingStore(t)
	// Another replica stored 640.webp before this process started.
	other := sizeKey(640, "webp")
	if err := s.Store.Put(t.Context(), other.StoreKey(), []byte("stored by a peer"), "image/webp"); err != nil {
		t.Fatal(err)
	}
	f := &countingFill{}
	v := newTestVariants(t, s, f.fill, nil)

	// The first storedIndexListAfter misses of the version ask the store;
	// the last of them starts a listing in the background.
	for i, w := range []int{320, 360, 400} {
		getVariant(t, v, sizeKey(w, "webp"))
		settle(t, v)
		if g, l, r := s.reads.Load(), s.lists.Load(), f.calls.Load(); g != int64(i+1) || r != int64(i+1) || l != int64(i/2) {
			t.Fatalf("miss %d: %d variant reads, %d listings, %d renders; want %d, %d, %d", i+1, g, l, r, i+1, i/2, i+1)
		}
	}
	for _, w := range []int{200, 240, 280} {
		getVariant(t, v, sizeKey(w, "avif"))
	}
	settle(t, v)
	if g, l, r := s.reads.Load(), s.lists.Load(), f.calls.Load(); g != 3 || l != 1 || r != 6 {
		t.Fatalf("three more misses: %d variant reads, %d listings, %d renders; want 3, 1, 6 (no store read for a variant the listing lacks)", g, l, r)
	}
	if n := v.storeSkipped.Get(); n != 3 {
		t.Errorf("covers_cache_store_reads_skipped_total = %d, want 3", n)
	}
	if n := v.storeMiss.Get(); n != 6 {
		t.Errorf("store misses = %d, want 6 (a skipped read is still a store miss)", n)
	}
	got, err := v.Get(t.Context(), other)
	if err != nil || string(got) != "stored by a peer" {
		t.Fatalf("Get %s = %q, %v; want the stored bytes", other, got, err)
	}
	if g, r := s.reads.Load(), f.calls.Load(); g != 4 || r != 6 {
		t.Errorf("a listed variant: %d variant reads, %d renders; want 4 and 6 (read, not rendered)", g, r)
	}
	// A variant this process stored is known: after its eviction from
	// memory it would be read, not rendered. Here: it is in the index.
	if v.index.absent(sizeKey(200, "avif"), time.Second) {
		t.Error("a variant this process stored is reported absent")
	}
}

func TestStoredIndexAsksTheStoreWhenItCannotTrustAListing(t *testing.T) {
	cases := []struct {
		name  string
		setup func(*listingStore)
	}{
		{"listing fails", func(s *listingStore) { s.failList.Store(true) }},
		{"listing is a full page", func(s *listingStore) { s.fullPage.Store(true) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newListingStore(t)
			c.setup(s)
			f := &countingFill{}
			v := newTestVariants(t, s, f.fill, nil)
			for _, w := range []int{200, 240, 280, 320, 360, 400} {
				getVariant(t, v, sizeKey(w, "webp"))
				settle(t, v)
			}
			if g, r := s.reads.Load(), f.calls.Load(); g != 6 || r != 6 {
				t.Errorf("6 misses: %d variant reads, %d renders; want 6 and 6", g, r)
			}
			if l := s.lists.Load(); l != 1 {
				t.Errorf("listings = %d, want 1 (not retried at once)", l)
			}
			if n := v.storeSkipped.Get(); n != 0 {
				t.Errorf("skipped reads = %d, want 0", n)
			}
		})
	}
}

func TestStoredIndexOffAsksTheStoreOnEveryMiss(t *testing.T) {
	t.Parallel()
	s := newListingStore(t)
	f := &countingFill{}
	v := newTestVariants(t, s, f.fill, func(cfg *VariantsConfig) { cfg.StoredIndexTTL = 0 })
	for _, w := range []int{200, 240, 280} {
		getVariant(t, v, sizeKey(w, "webp"))
	}
	settle(t, v)
	if g, l := s.reads.Load(), s.lists.Load(); g != 3 || l != 0 {
		t.Errorf("3 misses with the index off: %d variant reads, %d listings; want 3 and 0", g, l)
	}
}

func TestStoredIndexTrustsAListingForItsTTL(t *testing.T) {
	t.Parallel()
	s := newListingStore(t)
	ix := newStoredIndex(time.Hour, 100, 1, func(ctx context.Context, prefix string, limit int) ([]string, error) {
		return s.ListPage(ctx, prefix, "", limit)
	})
	k := sizeKey(320, "webp")
	if ix.absent(k, time.Second) {
		t.Fatal("absent before any listing")
	}
	ix.wait()
	if !ix.absent(k, time.Second) {
		t.Fatal("not absent after an empty listing")
	}
	// The listing grows old: it is dropped and taken again.
	ix.mu.Lock()
	l, _ := ix.versions.Get(versionOf(k))
	l.(*versionState).at = time.Now().Add(-2 * time.Hour)
	ix.mu.Unlock()
	if err := s.Store.Put(t.Context(), k.StoreKey(), []byte("x"), "image/webp"); err != nil {
		t.Fatal(err)
	}
	if ix.absent(k, time.Second) {
		t.Fatal("an expired listing was trusted")
	}
	ix.wait()
	if ix.absent(k, time.Second) {
		t.Error("the new listing does not show the stored variant")
	}
	if n := s.lists.Load(); n != 2 {
		t.Errorf("listings = %d, want 2", n)
	}
}
