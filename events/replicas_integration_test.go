package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mathrand "math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
	"github.com/bookcovers/image-worker/internal/testenv"
)

// raceCovers are four covers of different bytes; writer i of a round warms
// the i-th.
var raceCovers = []string{"cover-50x75-tiny.jpg", "cover-800x1200-alpha.png", "cover-400x600-static.gif", "cover-1200x1800-lossy.webp"}

// TestReplicasRacingEndOnTheNewestCover: two replicas (each its own warm
// pipeline, manifest cache and catalog pool) on one MinIO bucket and one
// catalog warm the same book at once with different event times, round
// after round, each then writing its answer back as the consumer does. The
// manifest and the catalog row always end on the same, newest cover.
func TestReplicasRacingEndOnTheNewestCover(t *testing.T) {
	t.Parallel()
	s3 := testenv.MinIO(t)
	const rounds = 12
	books := make([]string, rounds)
	for i := range books {
		books[i] = fmt.Sprintf("race-%02d", i)
	}
	catCfg, admin := catalogTable(t, DefaultCatalogConfig(), books...)
	mc := cache.DefaultMinIOConfig()
	mc.Endpoint, mc.AccessKey, mc.SecretKey = s3.Endpoint, s3.AccessKey, s3.SecretKey
	var b [6]byte
	_, _ = rand.Read(b[:])
	mc.Bucket = "covers-race-" + hex.EncodeToString(b[:])
	store, err := cache.NewMinIOStore(t.Context(), mc, discard)
	if err != nil {
		t.Fatalf("NewMinIOStore(bucket %s) = %v", mc.Bucket, err)
	}
	t.Cleanup(store.Close)
	o := newCoversOrigin(t)
	type replica struct {
		warm   *ingest.Warmer
		notify *Notifier
	}
	replicas := make([]replica, 2)
	for i := range replicas {
		replicas[i] = replica{newWarmer(t, o.addr(), store), NewNotifier(nil, newTestCatalog(t, catCfg), mc.Bucket, discard)}
	}
	manifests := cache.NewManifests(store, time.Millisecond, 5*time.Second)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

	for round, book := range books {
		order := mathrand.Perm(len(raceCovers)) // writer i's place in time, not in start order
		at := func(i int) time.Time { return t0.Add(time.Duration(order[i]) * time.Millisecond) }
		var start, wg sync.WaitGroup
		start.Add(1)
		errs := make([]error, len(raceCovers))
		for i, file := range raceCovers {
			wg.Go(func() {
				r := replicas[i%2]
				start.Wait()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				m, err := r.warm.Warm(ctx, book, o.url(fmt.Sprintf("/%s/%s", book, file)), false, at(i))
				if err == nil {
					err = r.notify.Succeeded(ctx, m)
				}
				errs[i] = err
			})
		}
		start.Done()
		wg.Wait()
		newest := 0
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: writer %d: %v", round, i, err)
			}
			if order[i] > order[newest] {
				newest = i
			}
		}
		m, err := manifests.Load(t.Context(), book)
		if wantURL := o.url(fmt.Sprintf("/%s/%s", book, raceCovers[newest])); err != nil || m.SourceURL != wantURL || !m.VersionTime.Equal(at(newest)) {
			t.Fatalf("round %d: manifest %+v, %v; want %s as of %s", round, m, err, wantURL, at(newest))
		}
		catalogWantRow(t, admin, catCfg, CatalogUpdate{BookID: book, Version: m.Version, VersionTime: m.VersionTime,
			StorageURL: cover.StorageURL(mc.Bucket, m.OriginalKey())})
	}
}
