package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
)

// perJobWarm counts warms per book and blocks while hold is open.
type perJobWarm struct {
	mu    sync.Mutex
	calls map[string]int
	hold  chan struct{}
}

func newPerJobWarm() *perJobWarm { return &perJobWarm{calls: map[string]int{}} }

func (w *perJobWarm) Warm(ctx context.Context, bookID, _ string, _ bool, _ time.Time) (cover.Manifest, error) {
	w.mu.Lock()
	w.calls[bookID]++
	hold := w.hold
	w.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return cover.Manifest{}, ctx.Err()
		}
	}
	return cover.Manifest{BookID: bookID, Version: "abcdefabcdef"}, nil
}

func (w *perJobWarm) total() (n int, twice []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for book, c := range w.calls {
		n += c
		if c > 1 {
			twice = append(twice, book)
		}
	}
	return n, twice
}

// leaseJobs starts a queue with a short lease on store.
func leaseJobs(t *testing.T, store cache.Store, w Warm, n Notifier, owner string, lease time.Duration) *Jobs {
	t.Helper()
	cfg := DefaultJobsConfig()
	cfg.RetryBase, cfg.RetryMax = time.Millisecond, 20*time.Millisecond
	cfg.Lease, cfg.Owner = lease, owner
	j, err := NewJobs(cfg, store, w, func(string) error { return nil }, n, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = j.Stop(ctx)
	})
	return j
}

// putOpenJob writes an open record owned by owner, with its lease ending at leaseUntil.
func putOpenJob(t *testing.T, store cache.Store, id int, owner string, leaseUntil time.Time, change func(*Job)) string {
	t.Helper()
	now := time.Now().UTC()
	rec := Job{ID: fmt.Sprintf("%032x", id), BookID: fmt.Sprintf("B%d", id), ImageURL: "https://a.example/x.jpg",
		State: JobQueued, CreatedAt: now, UpdatedAt: now, Owner: owner, LeaseUntil: leaseUntil}
	if change != nil {
		change(&rec)
	}
	b, _ := json.Marshal(rec)
	if err := store.Put(t.Context(), cache.OpenJobKey(rec.ID), b, "application/json"); err != nil {
		t.Fatal(err)
	}
	return rec.ID
}

func putHeartbeat(t *testing.T, store cache.Store, owner string, expires time.Time) {
	t.Helper()
	b, _ := json.Marshal(heartbeat{Owner: owner, Expires: expires})
	if err := store.Put(t.Context(), cache.JobOwnerKey(owner), b, "application/json"); err != nil {
		t.Fatal(err)
	}
}

// flakyNotifier fails every call until up is closed (nil: never fails).
type flakyNotifier struct {
	mu        sync.Mutex
	up        chan struct{}
	calls     int
	delivered []string
}

func (f *flakyNotifier) call(what string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.up != nil {
		select {
		case <-f.up:
		default:
			return errors.New("catalog: unavailable")
		}
	}
	f.delivered = append(f.delivered, what)
	return nil
}

func (f *flakyNotifier) JobSucceeded(_ context.Context, job Job, m cover.Manifest) error {
	return f.call(job.ID + "@" + m.Version)
}

func (f *flakyNotifier) JobFailed(_ context.Context, job Job) error {
	return f.call(job.ID + ":failed")
}

// A job whose notification fails stays open (running, outcome recorded in
// its open record) and is finished only when the notifier takes it.
func TestJobsStayOpenUntilNotified(t *testing.T) {
	store := newTestStore(t)
	n := &flakyNotifier{up: make(chan struct{})}
	w := newPerJobWarm()
	j := leaseJobs(t, store, w, n, "a", time.Minute)
	job, err := j.Submit(t.Context(), "B1", "https://a.example/1.jpg", false)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three failed notifications", func() bool { n.mu.Lock(); defer n.mu.Unlock(); return n.calls >= 3 })
	if got, _ := j.Get(t.Context(), job.ID); got.State != JobRunning {
		t.Errorf("job shown %s while its notification is not delivered, want running", got.State)
	}
	obj, err := store.Get(t.Context(), cache.OpenJobKey(job.ID))
	var rec Job
	if err != nil || json.Unmarshal(obj.Data, &rec) != nil || rec.Notify != JobSucceeded || rec.Manifest == nil || rec.Manifest.Version != "abcdefabcdef" {
		t.Errorf("open record while the notification is pending = %+v (%v), want notify=succeeded with the manifest", rec, err)
	}
	close(n.up)
	if got := waitJob(t, j, job.ID); got.State != JobSucceeded {
		t.Fatalf("job = %+v, want succeeded", got)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.delivered) != 1 || n.delivered[0] != job.ID+"@abcdefabcdef" {
		t.Errorf("delivered %v; want one delivery", n.delivered)
	}
	if total, _ := w.total(); total != 1 {
		t.Errorf("warms = %d, want 1 (a failed notification does not warm again)", total)
	}
}

// An open job whose outcome is recorded but not delivered (its owner died
// after warming) is delivered by the process that takes it over, with no
// second warm.
func TestJobsTakeOverPendingNotificationWithoutWarming(t *testing.T) {
	store := newTestStore(t)
	m := cover.Manifest{BookID: "B7", Version: "0123456789ab"}
	id := putOpenJob(t, store, 7, "dead", time.Now().Add(-time.Second), func(j *Job) {
		j.State, j.Notify, j.Manifest, j.Version, j.Attempts = JobRunning, JobSucceeded, &m, m.Version, 1
	})
	n := &flakyNotifier{}
	w := newPerJobWarm()
	j := leaseJobs(t, store, w, n, "b", time.Minute)
	if got := waitJob(t, j, id); got.State != JobSucceeded || got.Version != m.Version {
		t.Fatalf("job = %+v, want succeeded with %s", got, m.Version)
	}
	if total, _ := w.total(); total != 0 {
		t.Errorf("warms = %d, want 0", total)
	}
	if len(n.delivered) != 1 || n.delivered[0] != id+"@"+m.Version {
		t.Errorf("delivered %v, want the recorded manifest once", n.delivered)
	}
}

// Jobs of a live owner (fresh heartbeat) are left alone however old their
// record's own lease; once the heartbeat stops, another process takes them
// over within about 1.5 leases and runs each once.
func TestJobsDeadOwnersJobsAreTakenOverLiveOnesAreNot(t *testing.T) {
	store := newTestStore(t)
	const lease = 400 * time.Millisecond
	past := time.Now().Add(-time.Hour)
	var ids []string
	for i := 1; i <= 5; i++ {
		ids = append(ids, putOpenJob(t, store, i, "a", past, nil))
	}
	putHeartbeat(t, store, "a", time.Now().Add(3*lease))
	w := newPerJobWarm()
	j := leaseJobs(t, store, w, nil, "b", lease)
	time.Sleep(2 * lease) // several scans while "a" is alive
	if total, _ := w.total(); total != 0 {
		t.Fatalf("%d jobs of a live owner were run by another process", total)
	}
	// "a" stops heartbeating: its last heartbeat expires at most 3 leases from the start.
	for _, id := range ids {
		if got := waitJob(t, j, id); got.State != JobSucceeded {
			t.Errorf("job %s = %+v, want succeeded after the takeover", id, got)
		}
	}
	if total, twice := w.total(); total != len(ids) || len(twice) > 0 {
		t.Errorf("warms = %d (twice: %v), want %d, each once", total, twice, len(ids))
	}
}

// Two live processes never run one job both: a job submitted to one and
// held in its warm is not taken by the other, and the holder finishes it.
func TestJobsLiveProcessesDoNotShareJobs(t *testing.T) {
	store := newTestStore(t)
	const lease = 300 * time.Millisecond
	wa, wb := newPerJobWarm(), newPerJobWarm()
	wa.hold = make(chan struct{})
	a := leaseJobs(t, store, wa, nil, "a", lease)
	leaseJobs(t, store, wb, nil, "b", lease)
	var ids []string
	for i := range 6 { // more than a's 4 workers: some wait queued
		job, err := a.Submit(t.Context(), fmt.Sprintf("L%d", i), "https://a.example/x.jpg", false)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, job.ID)
	}
	time.Sleep(4 * lease)
	close(wa.hold)
	for _, id := range ids {
		if got := waitJob(t, a, id); got.State != JobSucceeded {
			t.Errorf("job %s = %+v", id, got)
		}
	}
	if total, _ := wb.total(); total != 0 {
		t.Errorf("the other live process ran %d of them", total)
	}
}

// A process that stops cleanly runs no more queued jobs and expires its
// heartbeat: its queued jobs are taken over at another process's next
// scan, long before their records' leases (an hour here) end.
func TestJobsStopHandsQueuedJobsOver(t *testing.T) {
	store := newTestStore(t)
	wa := newPerJobWarm()
	wa.hold = make(chan struct{})
	cfg := DefaultJobsConfig()
	cfg.Workers, cfg.Owner, cfg.Lease = 1, "a", time.Hour
	a, err := NewJobs(cfg, store, wa, func(string) error { return nil }, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 3 {
		job, err := a.Submit(t.Context(), fmt.Sprintf("S%d", i), "https://a.example/x.jpg", false)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, job.ID)
	}
	waitFor(t, "a's one worker holds the first job", func() bool { n, _ := wa.total(); return n == 1 })
	stopped := make(chan error, 1)
	go func() { stopped <- a.Stop(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	close(wa.hold) // the running job finishes; Stop returns
	if err := <-stopped; err != nil {
		t.Fatalf("Stop = %v", err)
	}
	wb := newPerJobWarm()
	b := leaseJobs(t, store, wb, nil, "b", 300*time.Millisecond)
	for _, id := range ids[1:] {
		if got := waitJob(t, b, id); got.State != JobSucceeded {
			t.Errorf("job %s = %+v", id, got)
		}
	}
	na, _ := wa.total()
	nb, _ := wb.total()
	if na != 1 || nb != 2 || b.takeovers.Get() != 2 {
		t.Errorf("warms: stopping process %d, other %d, takeovers %d; want 1, 2, 2", na, nb, b.takeovers.Get())
	}
}

// Start makes no store call: listeners serve before any job is looked at.
func TestJobsStartReadsNothing(t *testing.T) {
	cs := &callStore{Store: newTestStore(t)}
	cfg := DefaultJobsConfig()
	j, err := NewJobs(cfg, cs, newPerJobWarm(), func(string) error { return nil }, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	cs.block = make(chan struct{}) // every store call waits until the test lets it go
	started := make(chan error, 1)
	go func() { started <- j.Start(t.Context()) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Start waited for the store")
	}
	close(cs.block)
	_ = j.Stop(t.Context())
}

// callStore blocks every call while block is open and counts calls by op and key.
type callStore struct {
	cache.Store
	block chan struct{}
	mu    sync.Mutex
	calls []string
}

func (s *callStore) note(op, key string) {
	s.mu.Lock()
	s.calls = append(s.calls, op+" "+key)
	b := s.block
	s.mu.Unlock()
	if b != nil {
		<-b
	}
}

func (s *callStore) Get(ctx context.Context, key string) (cache.Object, error) {
	s.note("get", key)
	return s.Store.Get(ctx, key)
}

func (s *callStore) List(ctx context.Context, prefix string) ([]string, error) {
	s.note("list", prefix)
	return s.Store.List(ctx, prefix)
}

func (s *callStore) ListPage(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	s.note("listpage", prefix)
	return s.Store.ListPage(ctx, prefix, after, limit)
}

func (s *callStore) Put(ctx context.Context, key string, data []byte, ct string) error {
	s.note("put", key)
	return s.Store.Put(ctx, key, data, ct)
}
