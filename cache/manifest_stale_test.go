package cache

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
)

// switchStore is a local store whose Get fails with ErrUnavailable while
// down is set.
type switchStore struct {
	Store
	down atomic.Bool
}

func (s *switchStore) Get(ctx context.Context, key string) (Object, error) {
	if s.down.Load() {
		return Object{}, ErrUnavailable
	}
	return s.Store.Get(ctx, key)
}

// TestManifestsServeStaleWhileTheStoreFails: past its TTL a manifest whose
// reload fails because the store does is served stale, up to the stale
// bound past its expiry; a book known to have no cover stays without one;
// a book never seen fails; when the store is back, fresh answers return.
func TestManifestsServeStaleWhileTheStoreFails(t *testing.T) {
	t.Parallel()
	local, err := NewLocalStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &switchStore{Store: local}
	ms := NewManifests(store, time.Minute, time.Second)
	ms.SetStale(time.Hour)
	clock := time.Unix(1_800_000_000, 0)
	ms.now = func() time.Time { return clock }
	ctx := context.Background()
	if err := ms.Put(ctx, cover.Manifest{BookID: "B1", Version: "aaaaaaaaaaaa", VersionTime: clock}); err != nil {
		t.Fatal(err)
	}
	if _, err := ms.Current(ctx, "NONE"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Current(NONE) = %v; want ErrNotFound", err)
	}

	store.down.Store(true)
	clock = clock.Add(2 * time.Minute) // past the TTL
	m, err := ms.Current(ctx, "B1")
	if err != nil || m.Version != "aaaaaaaaaaaa" {
		t.Fatalf("Current(B1) past the TTL with the store down = %+v, %v; want the stale version", m, err)
	}
	if _, err := ms.Current(ctx, "NONE"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Current(NONE) with the store down = %v; want ErrNotFound (stale)", err)
	}
	if _, err := ms.Current(ctx, "NEVER"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Current(NEVER) with the store down = %v; want ErrUnavailable (nothing to serve stale)", err)
	}
	clock = clock.Add(50 * time.Minute) // still within TTL + 1h
	if m, err := ms.Current(ctx, "B1"); err != nil || m.Version != "aaaaaaaaaaaa" {
		t.Errorf("Current(B1) 52 min later = %+v, %v; want still stale", m, err)
	}
	clock = clock.Add(10 * time.Minute) // 62 min: past TTL + 1h
	if _, err := ms.Current(ctx, "B1"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Current(B1) past the stale bound = %v; want ErrUnavailable", err)
	}

	store.down.Store(false)
	if err := ms.Put(ctx, cover.Manifest{BookID: "B1", Version: "bbbbbbbbbbbb", VersionTime: clock}); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(2 * time.Minute)
	if m, err := ms.Current(ctx, "B1"); err != nil || m.Version != "bbbbbbbbbbbb" {
		t.Errorf("Current(B1) with the store back = %+v, %v; want the new version", m, err)
	}
	var sb strings.Builder
	ms.Metrics().WritePrometheus(&sb)
	if !strings.Contains(sb.String(), `covers_cache_manifest_lookups_total{result="stale"} 3`) {
		t.Errorf("stale lookups not counted 3 times:\n%s", sb.String())
	}
}
