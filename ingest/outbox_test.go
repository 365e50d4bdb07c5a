package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
)

// fakeDeliverer is a hand-written Deliverer: it fails the first fail calls,
// panics on the call numbers in panicAt, and counts deliveries by book.
type fakeDeliverer struct {
	mu      sync.Mutex
	fail    int
	panicAt map[int]bool
	calls   int
	byBook  map[string]int       // successful deliveries
	failed  map[string]int       // successful JobFailed deliveries
	refused []Refusal            // successful Refused deliveries
	at      map[string]time.Time // first successful delivery, by book
	onCall  func(n int)          // called before each delivery, outside the lock
	latency time.Duration
}

func newFakeDeliverer() *fakeDeliverer {
	return &fakeDeliverer{byBook: map[string]int{}, failed: map[string]int{}, panicAt: map[int]bool{}, at: map[string]time.Time{}}
}

func (f *fakeDeliverer) call(ctx context.Context, book string, into map[string]int) error {
	f.mu.Lock()
	f.calls++
	n, hook, fail, boom := f.calls, f.onCall, f.fail > 0, f.panicAt[f.calls]
	if fail {
		f.fail--
	}
	f.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	if f.latency > 0 {
		time.Sleep(f.latency)
	}
	switch {
	case boom:
		panic("deliverer exploded")
	case fail:
		return errors.New("catalog: unavailable (fake)")
	case ctx.Err() != nil:
		return ctx.Err()
	}
	f.mu.Lock()
	into[book]++
	if _, ok := f.at[book]; !ok {
		f.at[book] = time.Now()
	}
	f.mu.Unlock()
	return nil
}

func (f *fakeDeliverer) Succeeded(ctx context.Context, m cover.Manifest) error {
	return f.call(ctx, m.BookID, f.byBook)
}

func (f *fakeDeliverer) JobFailed(ctx context.Context, job Job) error {
	return f.call(ctx, job.BookID, f.failed)
}

func (f *fakeDeliverer) Refused(ctx context.Context, r Refusal) error {
	if err := f.call(ctx, r.BookID, map[string]int{}); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refused = append(f.refused, r)
	return nil
}

func (f *fakeDeliverer) snapshot() (calls int, byBook, failed map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	byBook, failed = map[string]int{}, map[string]int{}
	for k, v := range f.byBook {
		byBook[k] = v
	}
	for k, v := range f.failed {
		failed[k] = v
	}
	return f.calls, byBook, failed
}

func testOutboxConfig() OutboxConfig {
	cfg := DefaultOutboxConfig()
	cfg.RetryBase, cfg.RetryMax = 5*time.Millisecond, 20*time.Millisecond
	cfg.ScanInterval = time.Hour // only the scan at start, unless a test says otherwise
	cfg.DeliveryTimeout, cfg.StoreTimeout, cfg.ClaimTTL = 2*time.Second, 2*time.Second, 30*time.Second
	return cfg
}

func newTestOutbox(t *testing.T, cfg OutboxConfig, store cache.Store, d Deliverer) *Outbox {
	t.Helper()
	o, err := NewOutbox(cfg, store, d, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("NewOutbox: %v", err)
	}
	return o
}

// startOutbox starts o and stops it at cleanup, failing if Stop does.
func startOutbox(t *testing.T, o *Outbox) {
	t.Helper()
	if err := o.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := o.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
}

func newLocalTestStore(t *testing.T) cache.Store {
	t.Helper()
	s, err := cache.NewLocalStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func outboxKeys(t *testing.T, s cache.Store) []string {
	t.Helper()
	keys, err := s.List(context.Background(), cache.OutboxPrefix())
	if err != nil {
		t.Fatalf("List(outbox/): %v", err)
	}
	return keys
}

func readEntry(t *testing.T, s cache.Store, key string) OutboxEntry {
	t.Helper()
	obj, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	var e OutboxEntry
	if err := json.Unmarshal(obj.Data, &e); err != nil {
		t.Fatalf("decode %s: %v", key, err)
	}
	return e
}

// eventually polls cond for up to 10s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 10s waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func manifestOf(book string) cover.Manifest {
	return cover.Manifest{BookID: book, Version: "0123456789ab", ContentType: "image/jpeg", UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// recordN records n successes with a record-only outbox, as import, a
// backfill or a replica that then died would.
func recordN(t *testing.T, store cache.Store, prefix string, n int) {
	t.Helper()
	rec := newTestOutbox(t, testOutboxConfig(), store, nil)
	for i := range n {
		if err := rec.Succeeded(context.Background(), manifestOf(fmt.Sprintf("%s%d", prefix, i))); err != nil {
			t.Fatalf("Succeeded: %v", err)
		}
	}
}

func TestOutboxRecordsBeforeReturning(t *testing.T) {
	t.Parallel()
	store := newLocalTestStore(t)
	o := newTestOutbox(t, testOutboxConfig(), store, nil)
	job := Job{ID: "0123456789abcdef0123456789abcdef", BookID: "B2", ImageURL: "http://origin/b2.jpg", State: JobFailed,
		Error: &JobError{Code: "not_an_image", Message: cover.CodeNotAnImage.Message()}}
	before := time.Now().UTC()
	if err := o.JobSucceeded(t.Context(), Job{ID: "j1", BookID: "B1"}, manifestOf("B1")); err != nil {
		t.Fatalf("JobSucceeded = %v, want nil", err)
	}
	if err := o.JobFailed(t.Context(), job); err != nil {
		t.Fatalf("JobFailed = %v, want nil", err)
	}
	if err := o.Succeeded(t.Context(), manifestOf("B3")); err != nil {
		t.Fatalf("Succeeded = %v, want nil", err)
	}
	keys := outboxKeys(t, store)
	if len(keys) != 3 {
		t.Fatalf("outbox/ holds %v after three records, want 3 entries", keys)
	}
	got := map[string]OutboxEntry{}
	for _, k := range keys {
		e := readEntry(t, store, k)
		got[e.bookID()] = e
		if e.CreatedAt.Before(before) || e.Attempts != 0 || e.NextAttemptAt.After(e.CreatedAt) || e.Owner != "" {
			t.Errorf("entry %s = %+v, want created now, no attempts, due at once, unclaimed", k, e)
		}
		if created, ok := outboxCreated(k); !ok || !created.Equal(e.CreatedAt) {
			t.Errorf("key %s names creation time %v (ok %v), want %v", k, created, ok, e.CreatedAt)
		}
	}
	if e := got["B1"]; e.Kind != OutboxSucceeded || e.Manifest == nil || *e.Manifest != manifestOf("B1") || e.Job == nil || e.Job.ID != "j1" {
		t.Errorf("JobSucceeded entry = %+v, want the manifest and job j1", e)
	}
	if e := got["B2"]; e.Kind != OutboxFailed || e.Job == nil || e.Job.Error == nil || e.Job.Error.Code != "not_an_image" || e.Job.ImageURL != job.ImageURL {
		t.Errorf("JobFailed entry = %+v, want the job with its error", e)
	}
	if e := got["B3"]; e.Kind != OutboxSucceeded || e.Manifest == nil || e.Manifest.BookID != "B3" || e.Job != nil {
		t.Errorf("Succeeded entry = %+v, want the manifest only", e)
	}
	if err := o.Start(); err == nil {
		t.Error("Start of a record-only outbox = nil, want an error")
	}
}

// downStore fails every write, as MinIO does when it is down.
type downStore struct{ cache.Store }

func (downStore) PutIf(context.Context, string, []byte, string, cache.Condition) (string, error) {
	return "", fmt.Errorf("store put: %w", cache.ErrUnavailable)
}

func TestOutboxRecordReturnsStoreError(t *testing.T) {
	t.Parallel()
	o := newTestOutbox(t, testOutboxConfig(), downStore{newLocalTestStore(t)}, newFakeDeliverer())
	err := o.JobSucceeded(t.Context(), Job{ID: "j1", BookID: "B1"}, manifestOf("B1"))
	if !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("JobSucceeded on a store that is down = %v, want an error wrapping cache.ErrUnavailable (the caller keeps its work pending)", err)
	}
	wantOutboxMetrics(t, o, map[string]float64{"covers_outbox_recorded_total": 0})
}

func TestOutboxDeliversAndDeletes(t *testing.T) {
	t.Parallel()
	store := newLocalTestStore(t)
	d := newFakeDeliverer()
	o := newTestOutbox(t, testOutboxConfig(), store, d)
	startOutbox(t, o)
	if err := o.Succeeded(t.Context(), manifestOf("B1")); err != nil {
		t.Fatal(err)
	}
	if err := o.JobFailed(t.Context(), Job{ID: "j2", BookID: "B2", Error: &JobError{Code: "timeout"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both entries are delivered and deleted", func() bool { return len(outboxKeys(t, store)) == 0 })
	// The replica forgets an entry just after deleting its object.
	eventually(t, "the pending gauge drops to 0", func() bool { return metricValue(t, o.Metrics(), "covers_outbox_pending") == 0 })
	calls, byBook, failed := d.snapshot()
	if calls != 2 || byBook["B1"] != 1 || failed["B2"] != 1 {
		t.Errorf("deliveries: %d calls, succeeded %v, failed %v; want B1 succeeded once and B2 failed once", calls, byBook, failed)
	}
	wantOutboxMetrics(t, o, map[string]float64{
		"covers_outbox_recorded_total": 2, "covers_outbox_delivered_total": 2, "covers_outbox_delivery_errors_total": 0,
		"covers_outbox_pending": 0, "covers_outbox_oldest_age_seconds": 0,
	})
}

// wantOutboxMetrics checks samples of the outbox's metrics.
func wantOutboxMetrics(t *testing.T, o *Outbox, want map[string]float64) {
	t.Helper()
	for name, w := range want {
		if got := metricValue(t, o.Metrics(), name); got != w {
			t.Errorf("%s = %v, want %v", name, got, w)
		}
	}
}

func TestOutboxRetriesFailingDeliveryWithBackoff(t *testing.T) {
	t.Parallel()
	store := newLocalTestStore(t)
	d := newFakeDeliverer()
	d.fail = 4
	var mu sync.Mutex
	var seen []OutboxEntry // the stored entry as each delivery starts
	var starts []time.Time
	d.onCall = func(int) {
		keys := outboxKeys(t, store)
		if len(keys) != 1 {
			t.Errorf("outbox/ = %v during a delivery, want the one entry", keys)
			return
		}
		e := readEntry(t, store, keys[0])
		mu.Lock()
		seen, starts = append(seen, e), append(starts, time.Now())
		mu.Unlock()
	}
	cfg := testOutboxConfig()
	cfg.RetryBase, cfg.RetryMax = 20*time.Millisecond, 40*time.Millisecond
	o := newTestOutbox(t, cfg, store, d)
	startOutbox(t, o)
	if err := o.Succeeded(t.Context(), manifestOf("B1")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the entry is delivered after its failures", func() bool { return len(outboxKeys(t, store)) == 0 })
	calls, byBook, _ := d.snapshot()
	if calls != 5 || byBook["B1"] != 1 {
		t.Fatalf("deliverer called %d times, delivered %v; want 4 failures then 1 success", calls, byBook)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, e := range seen {
		if e.Attempts != i || e.Owner != o.cfg.Owner || !e.ClaimUntil.After(e.CreatedAt) {
			t.Errorf("entry at delivery %d = attempts %d owner %q claim %v; want attempts %d, claimed by %q", i+1, e.Attempts, e.Owner, e.ClaimUntil, i, o.cfg.Owner)
		}
		if i > 0 && (e.LastError == "" || e.NextAttemptAt.Before(seen[i-1].CreatedAt)) {
			t.Errorf("entry at delivery %d = %+v, want the last error and a next attempt time kept", i+1, e)
		}
		if i > 0 && starts[i].Before(e.NextAttemptAt) {
			t.Errorf("delivery %d started at %v, before its next attempt time %v", i+1, starts[i], e.NextAttemptAt)
		}
	}
	wantOutboxMetrics(t, o, map[string]float64{"covers_outbox_delivery_errors_total": 4, "covers_outbox_delivered_total": 1})
}

func TestOutboxPanickingDelivererIsRetried(t *testing.T) {
	t.Parallel()
	store := newLocalTestStore(t)
	d := newFakeDeliverer()
	d.panicAt[1] = true
	o := newTestOutbox(t, testOutboxConfig(), store, d)
	startOutbox(t, o)
	if err := o.Succeeded(t.Context(), manifestOf("B1")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the entry is delivered after the panic", func() bool { return len(outboxKeys(t, store)) == 0 })
	if calls, byBook, _ := d.snapshot(); calls != 2 || byBook["B1"] != 1 {
		t.Errorf("deliverer called %d times, delivered %v; want a panic then one delivery", calls, byBook)
	}
	wantOutboxMetrics(t, o, map[string]float64{`covers_panics_total{component="outbox"}`: 1, "covers_outbox_delivery_errors_total": 1})
}

func TestOutboxDrainsEntriesOfOtherProcesses(t *testing.T) {
	t.Parallel()
	store := newLocalTestStore(t)
	recordN(t, store, "BEFORE", 5) // a replica that died, or import, before this one started
	d := newFakeDeliverer()
	cfg := testOutboxConfig()
	cfg.ScanInterval = 50 * time.Millisecond
	o := newTestOutbox(t, cfg, store, d)
	startOutbox(t, o)
	eventually(t, "entries left before start are delivered", func() bool { return len(outboxKeys(t, store)) == 0 })
	recordN(t, store, "AFTER", 3) // a backfill running beside this replica
	eventually(t, "entries recorded elsewhere after start are delivered", func() bool { return len(outboxKeys(t, store)) == 0 })
	_, byBook, _ := d.snapshot()
	for _, b := range []string{"BEFORE0", "BEFORE1", "BEFORE2", "BEFORE3", "BEFORE4", "AFTER0", "AFTER1", "AFTER2"} {
		if byBook[b] != 1 {
			t.Errorf("%s delivered %d times, want 1 (all: %v)", b, byBook[b], byBook)
		}
	}
	eventually(t, "the pending gauge drops to 0", func() bool { return metricValue(t, o.Metrics(), "covers_outbox_pending") == 0 })
}

func TestOutboxTwoReplicasDeliverEachEntryOnce(t *testing.T) {
	t.Parallel()
	store := newLocalTestStore(t)
	const n = 40
	recordN(t, store, "B", n)
	shared := newFakeDeliverer()
	shared.latency = time.Millisecond
	cfg := testOutboxConfig()
	cfg.ScanInterval = 10 * time.Millisecond // scan often: the replicas race for every entry
	a, b := newTestOutbox(t, cfg, store, shared), newTestOutbox(t, cfg, store, shared)
	if a.cfg.Owner == b.cfg.Owner {
		t.Fatalf("two outboxes share the owner %q", a.cfg.Owner)
	}
	startOutbox(t, a)
	startOutbox(t, b)
	// A third writer keeps recording while both drain.
	recordN(t, store, "LATE", 10)
	eventually(t, "every entry is delivered", func() bool { return len(outboxKeys(t, store)) == 0 })
	_, byBook, _ := shared.snapshot()
	if len(byBook) != n+10 {
		t.Errorf("%d books delivered, want %d", len(byBook), n+10)
	}
	for book, c := range byBook {
		if c != 1 {
			t.Errorf("%s delivered %d times, want once", book, c)
		}
	}
	total := metricValue(t, a.Metrics(), "covers_outbox_delivered_total") + metricValue(t, b.Metrics(), "covers_outbox_delivered_total")
	if total != n+10 {
		t.Errorf("delivered_total over both replicas = %v, want %d", total, n+10)
	}
}

func TestOutboxTakesOverExpiredClaim(t *testing.T) {
	t.Parallel()
	store := newLocalTestStore(t)
	now := time.Now().UTC()
	claimed := func(book string, until time.Time) {
		m := manifestOf(book)
		e := OutboxEntry{Kind: OutboxSucceeded, Manifest: &m, CreatedAt: now, NextAttemptAt: now, Owner: "dead-replica", ClaimUntil: until}
		data, _ := json.Marshal(e)
		if err := store.Put(t.Context(), cache.OutboxKey(newOutboxID(now)), data, "application/json"); err != nil {
			t.Fatal(err)
		}
	}
	claimed("EXPIRED", now.Add(-time.Second))
	live := now.Add(500 * time.Millisecond)
	claimed("LIVE", live)
	d := newFakeDeliverer()
	o := newTestOutbox(t, testOutboxConfig(), store, d)
	startOutbox(t, o)
	eventually(t, "the entry whose claim expired is delivered", func() bool { _, b, _ := d.snapshot(); return b["EXPIRED"] == 1 })
	eventually(t, "the other entry is taken over once its claim expires", func() bool { _, b, _ := d.snapshot(); return b["LIVE"] == 1 })
	d.mu.Lock()
	expiredAt, liveAt := d.at["EXPIRED"], d.at["LIVE"]
	d.mu.Unlock()
	if liveAt.Before(live) {
		t.Errorf("LIVE, claimed by another replica until %v, was delivered at %v", live, liveAt)
	}
	if !expiredAt.Before(live) {
		t.Errorf("EXPIRED was delivered at %v, not at once (before %v)", expiredAt, live)
	}
	eventually(t, "the outbox is empty", func() bool { return len(outboxKeys(t, store)) == 0 })
}

func TestOutboxConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*OutboxConfig)
		ok     bool
	}{
		{"defaults", func(*OutboxConfig) {}, true},
		{"retry max below base", func(c *OutboxConfig) { c.RetryMax = c.RetryBase / 2 }, false},
		{"no scan interval", func(c *OutboxConfig) { c.ScanInterval = 0 }, false},
		{"claim shorter than a delivery", func(c *OutboxConfig) { c.ClaimTTL = c.DeliveryTimeout }, false},
		{"no workers", func(c *OutboxConfig) { c.Workers = 0 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultOutboxConfig()
			tt.change(&c)
			if err := c.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// TestOutboxRecordStored: a command's stored cover is queued; a store that
// is down is an error naming the cover; a nil Outbox (nothing written
// back) records nothing.
func TestOutboxRecordStored(t *testing.T) {
	t.Parallel()
	store := newLocalTestStore(t)
	o := newTestOutbox(t, testOutboxConfig(), store, nil)
	if err := o.RecordStored(t.Context(), manifestOf("B1")); err != nil {
		t.Fatalf("RecordStored = %v, want nil", err)
	}
	if keys := outboxKeys(t, store); len(keys) != 1 || readEntry(t, store, keys[0]).bookID() != "B1" {
		t.Errorf("outbox/ holds %v, want B1's entry", keys)
	}
	down := newTestOutbox(t, testOutboxConfig(), downStore{newLocalTestStore(t)}, nil)
	err := down.RecordStored(t.Context(), manifestOf("B2"))
	if !errors.Is(err, cache.ErrUnavailable) || !strings.Contains(err.Error(), "stored B2 version 0123456789ab, but its write-back was not queued") {
		t.Errorf("RecordStored on a store that is down = %v, want ErrUnavailable naming the cover", err)
	}
	var none *Outbox
	if err := none.RecordStored(t.Context(), manifestOf("B3")); err != nil {
		t.Errorf("RecordStored of a nil Outbox = %v, want nil", err)
	}
}

// TestOutboxDeliversRefusals: a Refusal recorded by one process is
// delivered by a serving one (Deliverer.Refused) with every field; an entry
// of a failed job written before refusals existed (no reason, no
// cover_status) is still read and delivered.
func TestOutboxDeliversRefusals(t *testing.T) {
	t.Parallel()
	store := newLocalTestStore(t)
	at := time.Date(2026, 5, 1, 12, 0, 0, 123456000, time.UTC)
	want := Refusal{BookID: "P1", SourceURL: "https://img.example/p1.gif", Code: cover.CodePlaceholderImage,
		Reason: ReasonTiny, Status: CoverPlaceholder, At: at}
	if err := newTestOutbox(t, testOutboxConfig(), store, nil).Refused(t.Context(), want); err != nil {
		t.Fatalf("Refused = %v, want nil", err)
	}
	if e := readEntry(t, store, outboxKeys(t, store)[0]); e.Kind != OutboxRefused || e.Refusal == nil || *e.Refusal != want {
		t.Fatalf("recorded entry = %+v; want kind refused with %+v", e, want)
	}
	old := `{"kind":"failed","job":{"job_id":"0123456789abcdef0123456789abcdef","book_id":"OLD","image_url":"http://origin/old.jpg",` +
		`"state":"failed","error":{"code":"not_an_image","message":"the original is not a supported image"},"attempts":1,` +
		`"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z"},"created_at":"2026-01-02T03:04:05Z",` +
		`"attempts":0,"next_attempt_at":"2026-01-02T03:04:05Z"}`
	if err := store.Put(t.Context(), cache.OutboxKey("0000000000000000001-0123456789abcdef"), []byte(old), "application/json"); err != nil {
		t.Fatal(err)
	}
	d := newFakeDeliverer()
	startOutbox(t, newTestOutbox(t, testOutboxConfig(), store, d))
	eventually(t, "both entries delivered", func() bool { return len(outboxKeys(t, store)) == 0 })
	_, _, failed := d.snapshot()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.refused) != 1 || d.refused[0] != want || failed["OLD"] != 1 {
		t.Errorf("delivered refusals %+v, failed jobs %v; want %+v and OLD's failed job once", d.refused, failed, want)
	}
}
