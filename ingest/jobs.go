package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"golang.org/x/sync/singleflight"

	"github.com/bookcovers/image-worker/cache"
)

// Warm is the single warm pipeline the job queue runs; at orders the book's
// covers (a job's CreatedAt, its arrival).
type Warm interface {
	Warm(ctx context.Context, bookID, imageURL string, refresh bool, at time.Time) (cache.Manifest, error)
}

// Notifier hears about finished jobs: result events, catalog write-back. Its
// errors are logged and counted; the job's own outcome stands.
type Notifier interface {
	JobSucceeded(ctx context.Context, job Job, m cache.Manifest) error
	JobFailed(ctx context.Context, job Job) error
}

// Jobs is the durable job queue behind POST /process. A job is written to the
// store before Submit returns; workers run it through the Warmer; jobs left
// queued or running by a crash are resumed by Start.
type Jobs struct {
	cfg         JobsConfig
	store       cache.Store
	warm        Warm
	validateURL func(string) error
	notifier    Notifier
	log         *slog.Logger
	now         func() time.Time
	sf          singleflight.Group

	mu      sync.Mutex
	active  map[string]*Job // by job id: queued or running
	byKey   map[string]string
	recent  map[string]*Job // finished, kept so Get answers while the store is down
	order   []string        // finished ids, oldest first, bounding recent
	pending []string        // queued job ids, FIFO
	done    doneSignals     // closed by finish for Wait (wait.go)
	signal  chan struct{}
	closing chan struct{}
	wg      sync.WaitGroup
	timers  sync.WaitGroup

	set                                       *metrics.Set
	submitted, deduped, succeeded, failed, re *metrics.Counter
	panics                                    *metrics.Counter
	notifyErrors                              *metrics.Counter
}

// NewJobs returns a job queue. validateURL rejects bad URLs synchronously so
// POST /process answers 400 instead of recording a job doomed to fail.
// notifier may be nil.
func NewJobs(cfg JobsConfig, store cache.Store, warm Warm, validateURL func(string) error, notifier Notifier, logger *slog.Logger) (*Jobs, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	set := metrics.NewSet()
	j := &Jobs{
		cfg: cfg, store: store, warm: warm, validateURL: validateURL, notifier: notifier, log: logger, now: time.Now,
		active: map[string]*Job{}, byKey: map[string]string{}, recent: map[string]*Job{},
		signal: make(chan struct{}, 1), closing: make(chan struct{}),
		set:          set,
		submitted:    set.NewCounter(`covers_ingest_jobs_submitted_total`),
		deduped:      set.NewCounter(`covers_ingest_jobs_deduplicated_total`),
		succeeded:    set.NewCounter(`covers_ingest_jobs_finished_total{result="succeeded"}`),
		failed:       set.NewCounter(`covers_ingest_jobs_finished_total{result="failed"}`),
		panics:       set.NewCounter(`covers_panics_total{component="jobs"}`),
		re:           set.NewCounter(`covers_ingest_jobs_retries_total`),
		notifyErrors: set.NewCounter(`covers_ingest_job_notify_errors_total`),
	}
	set.NewGauge(`covers_ingest_jobs_queued`, func() float64 {
		j.mu.Lock()
		defer j.mu.Unlock()
		return float64(len(j.pending))
	})
	return j, nil
}

// Metrics returns the job metrics.
func (j *Jobs) Metrics() *metrics.Set { return j.set }

// Submit records a warm job durably and queues it. Re-submitting the same
// book and URL while a job for them is queued or running returns that job.
func (j *Jobs) Submit(ctx context.Context, bookID, imageURL string, refresh bool) (Job, error) {
	if err := cache.ValidBookID(bookID); err != nil {
		return Job{}, fmt.Errorf("submit: %w", err)
	}
	if err := j.validateURL(imageURL); err != nil {
		return Job{}, fmt.Errorf("submit: %w", err)
	}
	key := jobKey(bookID, imageURL)
	v, err, shared := j.sf.Do(key, func() (any, error) {
		j.mu.Lock()
		if id, ok := j.byKey[key]; ok {
			job := *j.active[id]
			j.mu.Unlock()
			j.deduped.Inc()
			return job, nil
		}
		full := len(j.pending) >= j.cfg.QueueSize
		j.mu.Unlock()
		select {
		case <-j.closing:
			return Job{}, ErrClosed
		default:
		}
		if full {
			return Job{}, ErrQueueFull
		}
		now := j.now().UTC()
		job := &Job{ID: newJobID(), BookID: bookID, ImageURL: imageURL, Refresh: refresh, State: JobQueued, CreatedAt: now, UpdatedAt: now}
		if err := j.save(ctx, job); err != nil {
			return Job{}, err
		}
		j.submitted.Inc()
		snapshot := *job
		j.enqueue(job)
		return snapshot, nil
	})
	if shared {
		j.deduped.Inc()
	}
	if err != nil {
		return Job{}, fmt.Errorf("submit: %w", err)
	}
	return v.(Job), nil
}

// Get returns a job by id.
func (j *Jobs) Get(ctx context.Context, id string) (Job, error) {
	if err := ValidJobID(id); err != nil {
		return Job{}, err
	}
	j.mu.Lock()
	if job, ok := j.active[id]; ok {
		defer j.mu.Unlock()
		return *job, nil
	}
	if job, ok := j.recent[id]; ok {
		defer j.mu.Unlock()
		return *job, nil
	}
	j.mu.Unlock()
	return j.load(ctx, id)
}

// Start resumes unfinished jobs from the store and starts the workers.
func (j *Jobs) Start(ctx context.Context) error {
	keys, err := j.store.List(ctx, cache.JobsPrefix())
	if err != nil {
		return fmt.Errorf("resume jobs: %w", err)
	}
	resumed := 0
	for _, k := range keys {
		id := k[len(cache.JobsPrefix()):]
		job, err := j.load(ctx, id)
		if err != nil {
			j.log.Warn("skip unreadable job", "job_id", id, "error", err)
			continue
		}
		if job.State.Finished() {
			if j.now().Sub(job.UpdatedAt) > j.cfg.Retention {
				_ = j.store.Delete(ctx, k)
			}
			continue
		}
		job.State = JobQueued
		j.enqueue(&job)
		resumed++
	}
	if resumed > 0 {
		j.log.Info("resumed unfinished jobs", "count", resumed)
	}
	for range j.cfg.Workers {
		j.wg.Add(1)
		go j.work()
	}
	return nil
}

// Stop stops taking jobs and waits for running ones until ctx ends. Jobs
// still queued or running stay recorded and are resumed on the next start.
func (j *Jobs) Stop(ctx context.Context) error {
	close(j.closing)
	done := make(chan struct{})
	go func() { j.wg.Wait(); j.timers.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop jobs: %w", ctx.Err())
	}
}

func (j *Jobs) enqueue(job *Job) {
	j.mu.Lock()
	j.active[job.ID] = job
	j.byKey[jobKey(job.BookID, job.ImageURL)] = job.ID
	j.pending = append(j.pending, job.ID)
	j.mu.Unlock()
	select {
	case j.signal <- struct{}{}:
	default:
	}
}

func (j *Jobs) next() (*Job, bool) {
	for {
		j.mu.Lock()
		if len(j.pending) > 0 {
			id := j.pending[0]
			j.pending = j.pending[1:]
			job := j.active[id]
			if len(j.pending) > 0 {
				select {
				case j.signal <- struct{}{}:
				default:
				}
			}
			j.mu.Unlock()
			return job, true
		}
		j.mu.Unlock()
		select {
		case <-j.signal:
		case <-j.closing:
			return nil, false
		}
	}
}

func (j *Jobs) work() {
	defer j.wg.Done()
	for {
		job, ok := j.next()
		if !ok {
			return
		}
		j.runRecovered(job)
	}
}

// runRecovered runs a job; a panic outside its warm (which fails the job,
// see warmJob), in a notifier say, is logged and counted, the job stays
// recorded as running and is resumed on the next start, and the worker
// goes on.
func (j *Jobs) runRecovered(job *Job) {
	var err error
	defer func() {
		if err != nil {
			j.log.Error("job panicked", "job_id", job.ID, "book_id", job.BookID, "error", err)
		}
	}()
	defer RecoverTo(&err, j.panics, "job "+job.ID)
	j.run(job)
}

// warmJob is the job's warm; a panic in it fails the job with ErrPanic.
func (j *Jobs) warmJob(ctx context.Context, job *Job) (m cache.Manifest, err error) {
	defer RecoverTo(&err, j.panics, "warm job "+job.ID)
	return j.warm.Warm(ctx, job.BookID, job.ImageURL, job.Refresh, job.CreatedAt)
}

func (j *Jobs) run(job *Job) {
	ctx := context.Background()
	j.update(ctx, job, func(jb *Job) { jb.State = JobRunning; jb.Attempts++ })
	wctx, cancel := context.WithTimeout(ctx, j.cfg.Timeout)
	m, err := j.warmJob(wctx, job)
	cancel()
	switch {
	case err == nil:
		done := func(jb *Job) { jb.State = JobSucceeded; jb.Version = m.Version; jb.Error = nil }
		j.notify(ctx, job, done, func(ctx context.Context, n Notifier, snap Job) error { return n.JobSucceeded(ctx, snap, m) })
		j.finish(ctx, job, done)
		j.succeeded.Inc()
		j.log.Info("job succeeded", "job_id", job.ID, "book_id", job.BookID, "version", m.Version)
	case errorsIsFinal(err) || j.attempts(job) >= j.cfg.MaxAttempts:
		done := func(jb *Job) { failJob(jb, err) }
		j.notify(ctx, job, done, func(ctx context.Context, n Notifier, snap Job) error { return n.JobFailed(ctx, snap) })
		j.finish(ctx, job, done)
		j.failed.Inc()
		j.log.Info("job failed", "job_id", job.ID, "book_id", job.BookID, "code", Code(err), "error", err)
	default:
		j.re.Inc()
		j.update(ctx, job, func(jb *Job) { jb.State = JobQueued })
		delay := j.backoff(j.attempts(job))
		j.log.Warn("job will retry", "job_id", job.ID, "book_id", job.BookID, "code", Code(err), "retry_in_ms", delay.Milliseconds(), "error", err)
		j.retryAfter(job, delay)
	}
}

// notify tells the notifier about a job's final state (change applied to a
// copy) before the job is shown as finished, with its own budget.
func (j *Jobs) notify(ctx context.Context, job *Job, change func(*Job), call func(context.Context, Notifier, Job) error) {
	if j.notifier == nil {
		return
	}
	j.mu.Lock()
	snap := *job
	j.mu.Unlock()
	change(&snap)
	nctx, cancel := context.WithTimeout(ctx, j.cfg.StoreTimeout)
	defer cancel()
	if err := call(nctx, j.notifier, snap); err != nil {
		j.notifyErrors.Inc()
		j.log.Warn("job notification failed", "job_id", job.ID, "book_id", job.BookID, "error", err)
	}
}

func (j *Jobs) attempts(job *Job) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return job.Attempts
}

func (j *Jobs) backoff(attempt int) time.Duration {
	d := j.cfg.RetryBase << min(attempt, 20)
	if d <= 0 || d > j.cfg.RetryMax {
		d = j.cfg.RetryMax
	}
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

func (j *Jobs) retryAfter(job *Job, delay time.Duration) {
	j.timers.Add(1)
	go func() {
		defer j.timers.Done()
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
			j.enqueue(job)
		case <-j.closing:
			// Stays queued in the store: resumed on the next start.
		}
	}()
}

// update changes a job under the lock and writes it; a failed write is
// logged, and the next write (or a resume) carries the state.
func (j *Jobs) update(ctx context.Context, job *Job, change func(*Job)) {
	j.mu.Lock()
	change(job)
	job.UpdatedAt = j.now().UTC()
	snapshot := *job
	j.mu.Unlock()
	if err := j.save(ctx, &snapshot); err != nil {
		j.log.Warn("write job record failed", "job_id", job.ID, "error", err)
	}
}

func (j *Jobs) finish(ctx context.Context, job *Job, change func(*Job)) {
	// One critical section: the job is final and no longer found by book and
	// URL at the same moment, so a re-post (e.g. ?refresh=true) right now
	// makes a new job instead of joining the finished one.
	j.mu.Lock()
	change(job)
	job.UpdatedAt = j.now().UTC()
	snapshot := *job
	delete(j.active, job.ID)
	if j.byKey[jobKey(job.BookID, job.ImageURL)] == job.ID {
		delete(j.byKey, jobKey(job.BookID, job.ImageURL))
	}
	j.recent[job.ID] = job
	j.done.signal(job.ID)
	j.order = append(j.order, job.ID)
	if len(j.order) > j.cfg.RecentJobs {
		delete(j.recent, j.order[0])
		j.order = j.order[1:]
	}
	j.mu.Unlock()
	if err := j.save(ctx, &snapshot); err != nil {
		j.log.Warn("write job record failed", "job_id", job.ID, "error", err)
	}
}

func (j *Jobs) save(ctx context.Context, job *Job) error {
	data, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("save job: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), j.cfg.StoreTimeout)
	defer cancel()
	if err := j.store.Put(sctx, cache.JobKey(job.ID), data, "application/json"); err != nil {
		return fmt.Errorf("save job %s: %w", job.ID, err)
	}
	return nil
}

func (j *Jobs) load(ctx context.Context, id string) (Job, error) {
	obj, err := j.store.Get(ctx, cache.JobKey(id))
	if errors.Is(err, cache.ErrNotFound) {
		return Job{}, fmt.Errorf("load job %s: %w", id, ErrJobNotFound)
	}
	if err != nil {
		return Job{}, fmt.Errorf("load job %s: %w", id, err)
	}
	var job Job
	if err := json.Unmarshal(obj.Data, &job); err != nil {
		return Job{}, fmt.Errorf("load job %s: decode: %w", id, err)
	}
	return job, nil
}
