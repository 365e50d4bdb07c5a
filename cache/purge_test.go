package cache

import (
	"context"
	"errors"
	"sync"
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

// contentFixture stores a content as the Warmer does, with its check and
// variants, referenced by books.
func putContent(t *testing.T, store Store, ms *Manifests, content string, variants []cover.VariantKey, books ...string) {
	t.Helper()
	ctx := t.Context()
	keys := []string{cover.ContentOriginalKey(content), cover.ContentInfoKey(content)}
	for _, v := range variants {
		v.Content = content
		keys = append(keys, v.StoreKey())
	}
	for _, book := range books {
		keys = append(keys, cover.RefKey(book, content), cover.UserKey(content, book))
		if err := ms.Put(ctx, cover.Manifest{BookID: book, Version: cover.VersionOf(content), Content: content, VersionTime: time.Unix(int64(len(keys)), 0)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range keys {
		if err := store.Put(ctx, k, []byte("x "+k), "image/webp"); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPurgeContent: purging a book removes its manifest and references
// and the objects of every content no other book uses; a content another
// book uses stays whole; the variants of every content the book named are
// listed for the CDN.
func TestPurgeContent(t *testing.T) {
	t.Parallel()
	store := newLocalTestStore(t, t.TempDir())
	ms := NewManifests(store, time.Hour, time.Second)
	ctx := t.Context()
	shared, own := cover.ContentSum([]byte("shared")), cover.ContentSum([]byte("own"))
	box := cover.Rect{Left: 1, Top: 1, Width: 40, Height: 60}
	putContent(t, store, ms, shared, []cover.VariantKey{{Width: 320, Format: "webp"}, {Width: 96, Format: "avif"}}, "B1", "B2")
	putContent(t, store, ms, own, []cover.VariantKey{{Width: 200, Height: 300, Fit: true, Format: "jpg"}, {Trim: box, Width: 40, Format: "webp"}}, "B1")

	res, err := Purge(ctx, store, ms, "B1")
	// manifest, 2 references, 2 user markers, own's original, check and 2 variants
	if err != nil || res.Deleted != 9 || len(res.Variants) != 4 {
		t.Fatalf("Purge(B1) = %+v, %v; want 9 objects deleted and the 4 variants of both contents", res, err)
	}
	sizes := map[string]bool{}
	for _, v := range res.Variants {
		sizes[v.Size()+"."+v.Format] = true
	}
	for _, s := range []string{"320.webp", "96.avif", "200x300f.jpg", "40.webp"} {
		if !sizes[s] {
			t.Errorf("purged variants %v lack %s", res.Variants, s)
		}
	}
	if got := listTestKeys(t, store, cover.ContentPrefix(own)); len(got) != 0 {
		t.Errorf("content only B1 used: %v left", got)
	}
	if got := listTestKeys(t, store, cover.ContentPrefix(shared)); len(got) != 4 {
		t.Errorf("content B2 still uses = %v, want its original, check and 2 variants", got)
	}
	for _, prefix := range []string{cover.BookRefsPrefix("B1"), cover.ContentUsersPrefix(own)} {
		if got := listTestKeys(t, store, prefix); len(got) != 0 {
			t.Errorf("%s = %v, want nothing", prefix, got)
		}
	}
	if got := listTestKeys(t, store, cover.ContentUsersPrefix(shared)); len(got) != 1 || got[0] != cover.UserKey(shared, "B2") {
		t.Errorf("users of the shared content = %v, want B2 alone", got)
	}
	if _, err := ms.Load(ctx, "B2"); err != nil {
		t.Errorf("B2's manifest: %v", err)
	}

	res, err = Purge(ctx, store, ms, "B2")
	if err != nil || res.Deleted != 7 || len(res.Variants) != 2 {
		t.Fatalf("Purge(B2) = %+v, %v; want 7 objects and 2 variants", res, err)
	}
	if got := listTestKeys(t, store, ""); len(got) != 0 {
		t.Errorf("after both purges the store holds %v, want nothing", got)
	}
}

// racingWarm is a store in which a warm of book B3 with the content takes
// its reference (its user marker, its look for the original) right after
// the purge's first listing of the content's users found none: the warm
// finds the original still there, so the purge must put it back.
type racingWarm struct {
	Store
	content string
	once    sync.Once
	found   bool // the warm's look for the original found it
}

func (s *racingWarm) ListPage(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	keys, err := s.Store.ListPage(ctx, prefix, after, limit)
	if prefix == cover.ContentUsersPrefix(s.content) {
		s.once.Do(func() {
			if err := s.Store.Put(ctx, cover.UserKey(s.content, "B3"), nil, ""); err != nil {
				panic(err)
			}
			_, err := s.Store.Stat(ctx, cover.ContentOriginalKey(s.content))
			s.found = err == nil
		})
	}
	return keys, err
}

func TestPurgeKeepsAnOriginalAWarmTookUp(t *testing.T) {
	t.Parallel()
	local := newLocalTestStore(t, t.TempDir())
	content := cover.ContentSum([]byte("contested"))
	store := &racingWarm{Store: local, content: content}
	ms := NewManifests(store, time.Hour, time.Second)
	putContent(t, local, ms, content, []cover.VariantKey{{Width: 320, Format: "webp"}}, "B1")
	if _, err := Purge(t.Context(), store, ms, "B1"); err != nil {
		t.Fatal(err)
	}
	if !store.found {
		t.Fatal("the racing warm did not find the original: the race was not reproduced")
	}
	obj, err := local.Get(t.Context(), cover.ContentOriginalKey(content))
	if err != nil || string(obj.Data) != "x "+cover.ContentOriginalKey(content) {
		t.Errorf("the original B3 took up: %q, %v; want it put back", obj.Data, err)
	}
	if got := listTestKeys(t, local, cover.ContentUsersPrefix(content)); len(got) != 1 {
		t.Errorf("users = %v, want B3's", got)
	}
}

func listTestKeys(t *testing.T, s Store, prefix string) []string {
	t.Helper()
	keys, err := s.List(t.Context(), prefix)
	if err != nil {
		t.Fatalf("List(%s): %v", prefix, err)
	}
	return keys
}
