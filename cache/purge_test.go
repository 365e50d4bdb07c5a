package cache

import (
	"errors"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
)

func TestPurgeRemovesEveryObjectOfOneBook(t *testing.T) {
	store, err := NewLocalStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ms := NewManifests(store, time.Hour, time.Second)
	ctx := t.Context()
	for _, book := range []string{"B1", "B10"} {
		if err := ms.Put(ctx, cover.Manifest{BookID: book, Version: "v1"}); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{cover.OriginalKey(book, "v1"), cover.OriginalKey(book, "v0"),
			cover.VariantKey{BookID: book, Version: "v1", Width: 320, Format: "webp"}.StoreKey(),
			cover.VariantKey{BookID: book, Version: "v1", Width: 320, Height: 480, Format: "avif"}.StoreKey()} {
			if err := store.Put(ctx, k, []byte("x"), ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	res, err := Purge(ctx, store, ms, "B1")
	if err != nil || res.Deleted != 5 || len(res.Variants) != 2 {
		t.Fatalf("Purge = %+v, %v; want 5 objects and 2 variants", res, err)
	}
	if _, err := ms.Current(ctx, "B1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("manifest after purge: %v, want not found at once on this replica", err)
	}
	left, _ := store.List(ctx, "")
	for _, k := range left {
		if k == cover.ManifestKey("B1") || len(k) > 12 && (k[:13] == "originals/B1/" || k[:12] == "variants/B1/") {
			t.Errorf("left behind: %s", k)
		}
	}
	if len(left) != 5 {
		t.Errorf("the other book lost objects: %v", left)
	}
	if _, err := Purge(ctx, store, ms, "../x"); !errors.Is(err, cover.ErrInvalidBookID) {
		t.Errorf("bad id: %v", err)
	}
}
