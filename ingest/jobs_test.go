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

// fakeWarm is a hand-written Warm that fails with the queued errors first.
type fakeWarm struct {
	mu    sync.Mutex
	calls int
	errs  []error
	block chan struct{}
}

func (f *fakeWarm) Warm(ctx context.Context, bookID, _ string, _ bool, _ time.Time) (cover.Manifest, error) {
	f.mu.Lock()
	f.calls++
	var err error
	if len(f.errs) > 0 {
		err, f.errs = f.errs[0], f.errs[1:]
	}
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return cover.Manifest{}, ctx.Err()
		}
	}
	if err != nil {
		return cover.Manifest{}, err
	}
	return cover.Manifest{BookID: bookID, Version: "abcdefabcdef"}, nil
}

func (f *fakeWarm) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func testJobs(t *testing.T, store cache.Store, w Warm) *Jobs {
	t.Helper()
	return leaseJobs(t, store, w, nil, "", DefaultJobsConfig().Lease)
}

func waitJob(t *testing.T, j *Jobs, id string) Job {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		job, err := j.Get(t.Context(), id)
		if err == nil && job.State.Finished() {
			return job
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("job %s did not finish", id)
	return Job{}
}

func newTestStore(t *testing.T) cache.Store {
	s, err := cache.NewLocalStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJobsRecordDurablyBeforeReturning(t *testing.T) {
	store := newTestStore(t)
	w := &fakeWarm{block: make(chan struct{})}
	j := testJobs(t, store, w)
	job, err := j.Submit(t.Context(), "B1", "https://a.example/x.jpg", false)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := store.Get(t.Context(), cache.OpenJobKey(job.ID))
	if err != nil {
		t.Fatalf("open job record not in the store after Submit: %v", err)
	}
	var rec Job
	if err := json.Unmarshal(obj.Data, &rec); err != nil || rec.BookID != "B1" || rec.State.Finished() || rec.Owner != j.Owner() || !rec.LeaseUntil.After(time.Now()) {
		t.Fatalf("stored record = %+v, %v; want open, owned by %s under a lease", rec, err, j.Owner())
	}
	again, err := j.Submit(t.Context(), "B1", "https://a.example/x.jpg", false)
	if err != nil || again.ID != job.ID {
		t.Fatalf("re-submit while running = %s, %v; want the same job %s", again.ID, err, job.ID)
	}
	other, _ := j.Submit(t.Context(), "B1", "https://a.example/other.jpg", false)
	if other.ID == job.ID {
		t.Fatalf("another URL shares the job id")
	}
	close(w.block)
	if got := waitJob(t, j, job.ID); got.State != JobSucceeded || got.Version != "abcdefabcdef" {
		t.Fatalf("job = %+v", got)
	}
	waitJob(t, j, other.ID)
	if w.count() != 2 {
		t.Errorf("warm calls = %d, want 2", w.count())
	}
	for _, id := range []string{job.ID, other.ID} {
		waitFor(t, "finished record written and open record removed", func() bool {
			_, openErr := store.Get(t.Context(), cache.OpenJobKey(id))
			obj, err := store.Get(t.Context(), cache.JobKey(id))
			var rec Job
			return errors.Is(openErr, cache.ErrNotFound) && err == nil && json.Unmarshal(obj.Data, &rec) == nil &&
				rec.State == JobSucceeded && rec.Owner == "" && rec.Manifest == nil
		})
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestJobsResumeAfterCrash(t *testing.T) {
	store := newTestStore(t)
	now := time.Now().UTC()
	// Two open jobs of a process that died (no heartbeat, lease over) and
	// one finished job.
	for i, state := range []JobState{JobQueued, JobRunning, JobSucceeded} {
		rec := Job{ID: fmt.Sprintf("%032x", i+1), BookID: fmt.Sprintf("B%d", i), ImageURL: "https://a.example/x.jpg", State: state, CreatedAt: now, UpdatedAt: now,
			Owner: "dead-replica", LeaseUntil: now.Add(-time.Second)}
		b, _ := json.Marshal(rec)
		key := cache.OpenJobKey(rec.ID)
		if state.Finished() {
			key = cache.JobKey(rec.ID)
		}
		if err := store.Put(t.Context(), key, b, "application/json"); err != nil {
			t.Fatal(err)
		}
	}
	w := &fakeWarm{}
	j := testJobs(t, store, w)
	for i := 1; i <= 2; i++ {
		if got := waitJob(t, j, fmt.Sprintf("%032x", i)); got.State != JobSucceeded {
			t.Errorf("resumed job %d = %+v", i, got)
		}
	}
	if w.count() != 2 {
		t.Errorf("warm calls = %d, want 2 (the succeeded job is not re-run)", w.count())
	}
}

func TestJobsRetryPassingStorageFailures(t *testing.T) {
	w := &fakeWarm{errs: []error{cache.ErrUnavailable, fmt.Errorf("put: %w", cache.ErrTimeout)}}
	j := testJobs(t, newTestStore(t), w)
	job, _ := j.Submit(t.Context(), "B1", "https://a.example/x.jpg", false)
	got := waitJob(t, j, job.ID)
	if got.State != JobSucceeded || got.Attempts != 3 {
		t.Fatalf("job = %+v, want succeeded after 3 attempts", got)
	}
}

func TestJobsFailWithStableCode(t *testing.T) {
	cases := []struct {
		err  error
		code string
	}{
		{fmt.Errorf("fetch: %w", ErrBlockedAddress), "blocked_address"},
		{fmt.Errorf("fetch: %w", ErrTooLarge), "too_large"},
		{errors.New("surprise"), "internal"},
	}
	for _, c := range cases {
		w := &fakeWarm{errs: []error{c.err}}
		j := testJobs(t, newTestStore(t), w)
		job, _ := j.Submit(t.Context(), "B1", "https://a.example/x.jpg", false)
		got := waitJob(t, j, job.ID)
		if got.State != JobFailed || got.Error == nil || got.Error.Code != c.code || w.count() != 1 {
			t.Errorf("%v: job = %+v (calls %d), want failed %q once", c.err, got, w.count(), c.code)
		}
	}
}

func TestJobsRejectInvalidInputAtOnce(t *testing.T) {
	j := testJobs(t, newTestStore(t), &fakeWarm{})
	if _, err := j.Submit(t.Context(), ".bad", "https://a.example/x.jpg", false); !errors.Is(err, cover.ErrInvalidBookID) {
		t.Errorf("bad book id = %v", err)
	}
	if _, err := j.Get(t.Context(), "../../etc/passwd"); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("bad job id = %v", err)
	}
}

type recordingNotifier struct {
	mu             sync.Mutex
	succeeded      []string
	failed         []string
	failNotifyWith error
}

func (n *recordingNotifier) JobSucceeded(_ context.Context, job Job, m cover.Manifest) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.succeeded = append(n.succeeded, job.ID+"@"+m.Version)
	return n.failNotifyWith
}

func (n *recordingNotifier) JobFailed(_ context.Context, job Job) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.failed = append(n.failed, job.ID+":"+job.Error.Code)
	return n.failNotifyWith
}

func TestJobsNotifyOutcomes(t *testing.T) {
	n := &recordingNotifier{}
	cfg := DefaultJobsConfig()
	w := &fakeWarm{errs: []error{nil, fmt.Errorf("fetch: %w", ErrSourceRejected)}}
	j, err := NewJobs(cfg, newTestStore(t), w, func(string) error { return nil }, n, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer j.Stop(context.Background())
	ok, _ := j.Submit(t.Context(), "B1", "https://a.example/1.jpg", false)
	waitJob(t, j, ok.ID)
	bad, _ := j.Submit(t.Context(), "B2", "https://a.example/2.jpg", false)
	if got := waitJob(t, j, bad.ID); got.State != JobFailed {
		t.Fatalf("second job = %+v", got)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.succeeded) != 1 || n.succeeded[0] != ok.ID+"@abcdefabcdef" || len(n.failed) != 1 || n.failed[0] != bad.ID+":source_rejected" {
		t.Errorf("notified succeeded=%v failed=%v", n.succeeded, n.failed)
	}
}
