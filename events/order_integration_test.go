package events

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// coversOrigin serves the testdata file its URL path ends in, so URLs
// ending in different files have different covers, and counts requests by
// path. A refused path is answered 404 until allowed.
type coversOrigin struct {
	srv     *httptest.Server
	mu      sync.Mutex
	hits    map[string]int
	refused map[string]bool
}

func newCoversOrigin(t *testing.T) *coversOrigin {
	t.Helper()
	o := &coversOrigin{hits: map[string]int{}, refused: map[string]bool{}}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.hits[r.URL.Path]++
		refused := o.refused[r.URL.Path]
		o.mu.Unlock()
		data, err := os.ReadFile(path.Join("../testdata", path.Base(r.URL.Path)))
		if refused || err != nil {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(data)
	}))
	t.Cleanup(o.srv.Close)
	if host, _, _ := net.SplitHostPort(o.addr()); host != "127.0.0.1" {
		t.Fatalf("origin listens on %s, want 127.0.0.1", host)
	}
	return o
}

func (o *coversOrigin) addr() string            { return o.srv.Listener.Addr().String() }
func (o *coversOrigin) url(p string) string     { return o.srv.URL + p }
func (o *coversOrigin) refuse(p string, b bool) { o.mu.Lock(); o.refused[p] = b; o.mu.Unlock() }
func (o *coversOrigin) count(p string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[p]
}

// Two covers of different bytes.
const (
	newCover = "/new/cover-50x75-tiny.jpg"
	oldCover = "/old/cover-800x1200-alpha.png"
)

// orderRig is one replica's whole event path on real components: kfake,
// the real warm pipeline on a local store, result events and the catalog
// write-back to PostgreSQL.
type orderRig struct {
	c         *kfake.Cluster
	cfg       Config
	cl        *kgo.Client
	origin    *coversOrigin
	manifests *cache.Manifests
	catCfg    CatalogConfig
	admin     *pgx.Conn
}

func newOrderRig(t *testing.T, book string) *orderRig {
	t.Helper()
	catCfg, admin := catalogTable(t, DefaultCatalogConfig(), book)
	r := &orderRig{c: newCluster(t, kfake.SeedTopics(1, testTopic, testDLQ, testResult)), origin: newCoversOrigin(t), catCfg: catCfg, admin: admin}
	r.cfg = testConfig(r.c)
	r.cl, _ = newClient(t, r.c)
	store, err := cache.NewLocalStore(t.TempDir())
	if err != nil {
		t.Fatalf("NewLocalStore: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	r.manifests = cache.NewManifests(store, time.Millisecond, 5*time.Second)
	notifier := NewNotifier(NewResults(r.cl, r.cfg), newTestCatalog(t, catCfg), r.cfg.Bucket, discard)
	startConsumer(t, r.cfg, newWarmer(t, r.origin.addr(), store), notifier)
	return r
}

// waitCommitted waits until the consumer committed n records.
func (r *orderRig) waitCommitted(t *testing.T, n int64) {
	t.Helper()
	_, adm := newClient(t, r.c)
	waitFor(t, 20*time.Second, "offset "+strconv.FormatInt(n, 10)+" committed",
		func() bool { return committed(t, adm, r.cfg.GroupID, testTopic, 0) == n })
}

// wantCover fails unless the manifest, the catalog row and the last result
// event all name the cover at path as of version time at.
func (r *orderRig) wantCover(t *testing.T, book, p string, at time.Time) {
	t.Helper()
	m, err := r.manifests.Load(t.Context(), book)
	if err != nil || m.SourceURL != r.origin.url(p) || !m.VersionTime.Equal(at) {
		t.Fatalf("manifest of %s = %+v, %v; want %s as of %s", book, m, err, p, at.Format(time.RFC3339Nano))
	}
	catalogWantRow(t, r.admin, r.catCfg, CatalogUpdate{BookID: book, Version: m.Version, VersionTime: at,
		StorageURL: cover.StorageURL(r.cfg.Bucket, m.OriginalKey())})
	results := readTopic(t, r.c, testResult)
	var last struct{ Version, VersionTime string }
	if len(results) > 0 {
		var ev map[string]string
		_ = json.Unmarshal(results[len(results)-1].Value, &ev)
		last.Version, last.VersionTime = ev["version"], ev["version_time"]
	}
	if last.Version != m.Version || last.VersionTime != at.UTC().Format(time.RFC3339Nano) {
		t.Errorf("last result event names %+v; want version %s as of %s", last, m.Version, at.Format(time.RFC3339Nano))
	}
}

// orderEvent is a book_enriched record with an optional enriched_at and a
// record timestamp (zero: the time it is produced).
func orderEvent(book, url, enrichedAt string, ts time.Time) *kgo.Record {
	v := map[string]string{"book_id": book, "cover_image_url": url}
	if enrichedAt != "" {
		v["enriched_at"] = enrichedAt
	}
	value, _ := json.Marshal(v)
	return &kgo.Record{Topic: testTopic, Key: []byte(book), Value: value, Timestamp: ts}
}

// TestConsumeOrdersCoversByEventTime: the order of a book's covers is the
// event's enriched_at, else its record's timestamp; an older event coming
// later (a replay) fetches nothing and leaves the manifest, the catalog row
// and the last result event on the newer cover.
func TestConsumeOrdersCoversByEventTime(t *testing.T) {
	t.Parallel()
	t1 := time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)
	t2 := t1.Add(time.Minute)
	rfc := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	type ev struct {
		path, enrichedAt string
		ts               time.Time
	}
	tests := []struct {
		name       string
		events     []ev
		want       string
		wantAt     time.Time
		oldFetches int
		newFetches int
	}{
		{"replayed older enriched_at", []ev{{newCover, rfc(t2), time.Time{}}, {oldCover, rfc(t1), time.Time{}}}, newCover, t2, 0, 1},
		{"newer enriched_at moves forward", []ev{{oldCover, rfc(t1), time.Time{}}, {newCover, rfc(t2), time.Time{}}}, newCover, t2, 1, 1},
		{"no enriched_at: record timestamps", []ev{{newCover, "", t2}, {oldCover, "", t1}}, newCover, t2.Truncate(time.Millisecond), 0, 1},
		{"enriched_at, not the record time", []ev{{newCover, rfc(t2), t1}, {oldCover, rfc(t1), t2}}, newCover, t2, 0, 1},
		{"unusable enriched_at: record timestamp", []ev{{newCover, "yesterday", t2}, {oldCover, "", t1}}, newCover, t2.Truncate(time.Millisecond), 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newOrderRig(t, "book-1")
			for _, e := range tt.events {
				produce(t, r.cl, orderEvent("book-1", r.origin.url(e.path), e.enrichedAt, e.ts))
			}
			r.waitCommitted(t, int64(len(tt.events)))
			r.wantCover(t, "book-1", tt.want, tt.wantAt)
			if got := r.origin.count(oldCover); got != tt.oldFetches {
				t.Errorf("old cover fetched %d times, want %d", got, tt.oldFetches)
			}
			if got := r.origin.count(newCover); got != tt.newFetches {
				t.Errorf("new cover fetched %d times, want %d", got, tt.newFetches)
			}
		})
	}
}

// TestRedriveOfAnOlderEventKeepsTheNewerCover: an event dead-lettered
// before a newer one arrived and redriven after it orders by the time it
// first arrived (carried in HeaderOriginalTimestamp), not by the redrive:
// the book stays on the newer cover everywhere and the old one is not
// fetched again.
func TestRedriveOfAnOlderEventKeepsTheNewerCover(t *testing.T) {
	t.Parallel()
	r := newOrderRig(t, "book-1")
	r.origin.refuse(oldCover, true) // 404: dead-lettered at once
	oldEv := orderEvent("book-1", r.origin.url(oldCover), "", time.Time{})
	produce(t, r.cl, oldEv)
	r.waitCommitted(t, 1)
	newEv := orderEvent("book-1", r.origin.url(newCover), "", time.Time{})
	produce(t, r.cl, newEv)
	r.waitCommitted(t, 2)
	if dl := readTopic(t, r.c, testDLQ); len(dl) != 1 || header(t, dl[0], HeaderErrorCode) != "source_rejected" {
		t.Fatalf("DLQ = %d records, want the old event (source_rejected)", len(dl))
	}

	r.origin.refuse(oldCover, false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if n, err := Redrive(ctx, r.cfg, RedriveOptions{}, discard, testOpts()...); n != 1 || err != nil {
		t.Fatalf("Redrive = %d, %v; want 1, nil", n, err)
	}
	r.waitCommitted(t, 3)
	r.wantCover(t, "book-1", newCover, newEv.Timestamp.Truncate(time.Millisecond))
	if got := r.origin.count(oldCover); got != 1 {
		t.Errorf("old cover fetched %d times, want 1 (the failed attempt, none after the redrive)", got)
	}
}
