package cache

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
)

// gatedStore holds every Get of a manifest while gate is set, until it is
// cleared, and fails them while down is set.
type gatedStore struct {
	Store
	gate, down atomic.Bool
	gets       atomic.Int64
}

func (s *gatedStore) Get(ctx context.Context, key string) (Object, error) {
	s.gets.Add(1)
	for s.gate.Load() {
		select {
		case <-ctx.Done():
			return Object{}, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	if s.down.Load() {
		return Object{}, ErrUnavailable
	}
	return s.Store.Get(ctx, key)
}

// newGatedManifests returns Manifests with a one-minute TTL over a gated
// local store, on a clock the test moves.
func newGatedManifests(t *testing.T) (*Manifests, *gatedStore, *LocalStore, *atomic.Int64) {
	t.Helper()
	local, err := NewLocalStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &gatedStore{Store: local}
	ms := NewManifests(store, time.Minute, 5*time.Second)
	clock := &atomic.Int64{}
	clock.Store(time.Unix(1_800_000_000, 0).UnixNano())
	ms.now = func() time.Time { return time.Unix(0, clock.Load()) }
	return ms, store, local, clock
}

// TestManifestsRefreshAheadOfExpiry: a book asked for in the last seconds
// of its entry's TTL is reloaded in the background while the cached answer
// is served without waiting, once; a successful reload makes the next
// expiry a TTL after it, so a steadily asked-for book never waits for the
// store; a failed one leaves the entry to expire as usual.
func TestManifestsRefreshAheadOfExpiry(t *testing.T) {
	t.Parallel()
	ms, store, local, clock := newGatedManifests(t)
	advance := func(d time.Duration) { clock.Add(int64(d)) }
	ctx := context.Background()
	v1 := cover.Manifest{BookID: "B1", Version: "aaaaaaaaaaaa", VersionTime: ms.now()}
	if err := ms.Put(ctx, v1); err != nil {
		t.Fatal(err)
	}
	// Another replica replaces the cover.
	v2 := cover.Manifest{BookID: "B1", Version: "bbbbbbbbbbbb", VersionTime: ms.now().Add(time.Second)}
	data, _ := json.Marshal(v2)
	if err := local.Put(ctx, cover.ManifestKey("B1"), data, "application/json"); err != nil {
		t.Fatal(err)
	}

	current := func() string {
		t.Helper()
		m, err := ms.Current(ctx, "B1")
		if err != nil {
			t.Fatalf("Current(B1): %v", err)
		}
		return m.Version
	}
	advance(40 * time.Second) // before the refresh window: a plain hit
	if v := current(); v != v1.Version || ms.refreshes.Get() != 0 {
		t.Fatalf("at 40s: %s with %d refreshes; want %s and none", v, ms.refreshes.Get(), v1.Version)
	}
	store.gate.Store(true)    // the store hangs: a hit must not wait for it
	advance(16 * time.Second) // 56s: inside the last 5s
	misses := ms.misses.Get()
	for range 3 {
		if v := current(); v != v1.Version {
			t.Fatalf("at 56s with the reload held: %s, want the cached %s", v, v1.Version)
		}
	}
	if n := ms.refreshes.Get(); n != 1 {
		t.Errorf("refreshes = %d after three hits in the window, want 1", n)
	}
	store.gate.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for current() != v2.Version {
		if time.Now().After(deadline) {
			t.Fatal("the refresh never replaced the entry")
		}
		time.Sleep(time.Millisecond)
	}
	advance(30 * time.Second) // 86s: past the first entry's expiry, within the new one's
	if v := current(); v != v2.Version || ms.misses.Get() != misses {
		t.Errorf("at 86s: %s, %d misses since the window; want %s from the cache, no miss", v, ms.misses.Get()-misses, v2.Version)
	}

	// A refresh that fails leaves the entry until it expires.
	store.down.Store(true)
	advance(27 * time.Second) // 113s: inside the second entry's window (it expires at 116s)
	gets := store.gets.Load()
	if v := current(); v != v2.Version {
		t.Fatalf("at 113s with the store down: %s, want %s", v, v2.Version)
	}
	for store.gets.Load() == gets {
		time.Sleep(time.Millisecond) // the refresh reached the store
	}
	time.Sleep(20 * time.Millisecond)
	if v := current(); v != v2.Version || ms.refreshes.Get() != 2 {
		t.Errorf("after a failed refresh: %s with %d refreshes; want %s and 2 (no retry before expiry)", v, ms.refreshes.Get(), v2.Version)
	}
}

// TestManifestsShedWhileRendersAreSaturated: while the shed function says
// the render queue is full, a lookup never waits on the store: a book with
// an expired entry gets it while a reload runs behind, a book with none is
// refused at once with the shed error; with room again, lookups load.
func TestManifestsShedWhileRendersAreSaturated(t *testing.T) {
	t.Parallel()
	ms, store, local, clock := newGatedManifests(t)
	errFull := errors.New("render queue full")
	var saturated atomic.Bool
	ms.SetShed(func() error {
		if saturated.Load() {
			return errFull
		}
		return nil
	})
	ctx := context.Background()
	for _, b := range []string{"B1", "B2"} {
		if err := ms.Put(ctx, cover.Manifest{BookID: b, Version: "aaaaaaaaaaaa", VersionTime: ms.now()}); err != nil {
			t.Fatal(err)
		}
	}
	ms.Forget("B2") // B2 is stored but not in this replica's cache
	v2 := cover.Manifest{BookID: "B1", Version: "bbbbbbbbbbbb", VersionTime: ms.now().Add(time.Second)}
	data, _ := json.Marshal(v2)
	if err := local.Put(ctx, cover.ManifestKey("B1"), data, "application/json"); err != nil {
		t.Fatal(err)
	}

	saturated.Store(true)
	store.gate.Store(true) // a lookup that waited on the store would hang
	clock.Add(int64(2 * time.Minute))
	gets := store.gets.Load()
	if m, err := ms.Current(ctx, "B1"); err != nil || m.Version != "aaaaaaaaaaaa" {
		t.Errorf("saturated, B1 expired: %+v, %v; want the expired entry at once", m, err)
	}
	if _, err := ms.Current(ctx, "B2"); !errors.Is(err, errFull) {
		t.Errorf("saturated, B2 not cached: %v; want the shed error at once", err)
	}
	if n := ms.sheds.Get(); n != 1 {
		t.Errorf("shed lookups = %d, want 1", n)
	}
	if n := ms.refreshes.Get(); n != 1 {
		t.Errorf("refreshes = %d, want 1 (B1's reload behind the answer)", n)
	}
	store.gate.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for {
		m, err := ms.Current(ctx, "B1")
		if err == nil && m.Version == v2.Version {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B1 never reloaded behind the answer: %+v, %v", m, err)
		}
		time.Sleep(time.Millisecond)
	}
	if store.gets.Load() <= gets {
		t.Error("no store read for B1's reload")
	}

	saturated.Store(false)
	if m, err := ms.Current(ctx, "B2"); err != nil || m.Version != "aaaaaaaaaaaa" {
		t.Errorf("room again, B2: %+v, %v; want it loaded", m, err)
	}
}
