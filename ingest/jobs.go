package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"golang.org/x/sync/singleflight"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
)

// Warm is the single warm pipeline the job queue runs; at orders the book's
// covers (a job's CreatedAt, its arrival).
type Warm interface {
	Warm(ctx context.Context, bookID, imageURL string, refresh bool, at time.Time) (cover.Manifest, error)
}

// Notifier hears about finished jobs: result events, catalog write-back.
// A job is shown as finished only once its Notifier accepted the outcome
// (delivered it, or queued it durably); until then it stays open and the
// call is retried with backoff, across restarts and takeovers.
type Notifier interface {
	JobSucceeded(ctx context.Context, job Job, m cover.Manifest) error
	JobFailed(ctx context.Context, job Job) error
}

// Jobs is the durable job queue behind POST /process. A job is written to the
// store before Submit returns; workers run it through the Warmer. Open jobs
// are found through an index and owned under a lease (jobs_lease.go), so
// start-up never reads the history and a dead replica's jobs run elsewhere.
type Jobs struct {
	cfg         JobsConfig
	store       cache.Store
	warm        Warm
	validateURL func(string) error
	notifier    Notifier
	log         *slog.Logger
	now         func() time.Time
	owner       string
	sf          singleflight.Group

	mu       sync.Mutex
	active   map[string]*Job // by job id: queued or running, owned by this process
	byKey    map[string]string
	etags    map[string]string // ETag of the open record this process last wrote
	creating map[string]bool   // records whose creation is under way
	seen     map[string]string // open jobs of live owners, by id, from the last scan
	tries    map[string]int    // failed notifications per job, for the backoff
	recent   map[string]*Job   // finished, kept so Get answers while the store is down
	order    []string          // finished ids, oldest first, bounding recent
	pending  []string          // queued job ids, FIFO
	done     doneSignals       // closed by finish for Wait (wait.go)
	signal   chan struct{}
	closing  chan struct{}
	wg       sync.WaitGroup
	timers   sync.WaitGroup
	loops    sync.WaitGroup

	set                                       *metrics.Set
	submitted, deduped, succeeded, failed, re *metrics.Counter
	panics, takeovers, lost                   *metrics.Counter
	notifyErrors                              *metrics.Counter
}

// NewJobs returns a job queue. validateURL rejects bad URLs synchronously so
// POST /process answers 400 instead of recording a job doomed to fail.
// notifier may be nil.
func NewJobs(cfg JobsConfig, store cache.Store, warm Warm, validateURL func(string) error, notifier Notifier, logger *slog.Logger) (*Jobs, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	owner := cfg.Owner
	if owner == "" {
		owner = defaultOwner()
	}
	set := metrics.NewSet()
	j := &Jobs{
		cfg: cfg, store: store, warm: warm, validateURL: validateURL, notifier: notifier, log: logger.With("owner", owner), now: time.Now, owner: owner,
		active: map[string]*Job{}, byKey: map[string]string{}, recent: map[string]*Job{},
		etags: map[string]string{}, creating: map[string]bool{}, seen: map[string]string{}, tries: map[string]int{},
		signal: make(chan struct{}, 1), closing: make(chan struct{}),
		set:          set,
		submitted:    set.NewCounter(`covers_ingest_jobs_submitted_total`),
		deduped:      set.NewCounter(`covers_ingest_jobs_deduplicated_total`),
		succeeded:    set.NewCounter(`covers_ingest_jobs_finished_total{result="succeeded"}`),
		failed:       set.NewCounter(`covers_ingest_jobs_finished_total{result="failed"}`),
		panics:       set.NewCounter(`covers_panics_total{component="jobs"}`),
		re:           set.NewCounter(`covers_ingest_jobs_retries_total`),
		takeovers:    set.NewCounter(`covers_ingest_jobs_taken_over_total`),
		lost:         set.NewCounter(`covers_ingest_jobs_lost_lease_total`),
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

// Owner is the name this process's jobs carry.
func (j *Jobs) Owner() string { return j.owner }

// Submit records a warm job durably and queues it. Re-submitting the same
// book and URL while a job for them is queued or running returns that job.
func (j *Jobs) Submit(ctx context.Context, bookID, imageURL string, refresh bool) (Job, error) {
	if err := cover.ValidBookID(bookID); err != nil {
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
		if err := j.create(ctx, job); err != nil {
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

// Start starts the workers and, in the background, the heartbeat and the
// scan of the open-jobs index that resumes unfinished jobs; it reads
// nothing before returning, so listeners serve at once whatever the
// history holds. The store's lifecycle rule (cache.Expirer) is installed
// in the background too.
func (j *Jobs) Start(ctx context.Context) error {
	for range j.cfg.Workers {
		j.wg.Add(1)
		go j.work()
	}
	j.loops.Add(3)
	go j.heartbeatLoop()
	go j.scanLoop()
	go j.expireFinished(context.WithoutCancel(ctx))
	return nil
}

// Stop stops taking jobs and waits for running ones until ctx ends. Jobs
// still open stay recorded; the heartbeat is expired so other replicas
// take them over at their next scan (a restart of this one does too).
func (j *Jobs) Stop(ctx context.Context) error {
	close(j.closing)
	done := make(chan struct{})
	go func() { j.wg.Wait(); j.timers.Wait(); j.loops.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("stop jobs: %w", ctx.Err())
	}
	if err := j.beat(ctx, j.now()); err != nil {
		j.log.Warn("expire job heartbeat failed; other replicas take over after the lease", "error", err)
	}
	return nil
}

// expireFinished installs the store's expiry of finished job records and
// of stale heartbeats, where the store has one.
func (j *Jobs) expireFinished(ctx context.Context) {
	defer j.loops.Done()
	e, ok := j.store.(cache.Expirer)
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-j.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	j.recovered("expire job records", func() {
		for _, rule := range []struct {
			prefix string
			age    time.Duration
		}{{cache.JobsPrefix(), j.cfg.Retention}, {cache.JobOwnersPrefix(), 24 * time.Hour}} {
			ectx, cancel := context.WithTimeout(ctx, j.cfg.StoreTimeout)
			err := e.ExpirePrefix(ectx, rule.prefix, rule.age)
			cancel()
			if err != nil {
				j.log.Warn("install expiry of job records failed", "prefix", rule.prefix, "error", err)
			}
		}
	})
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
		select {
		case <-j.closing:
			return nil, false // queued jobs stay open: taken over elsewhere
		default:
		}
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
// recorded as open and is taken over once this process's lease ends, and
// the worker goes on.
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
func (j *Jobs) warmJob(ctx context.Context, job *Job) (m cover.Manifest, err error) {
	defer RecoverTo(&err, j.panics, "warm job "+job.ID)
	return j.warm.Warm(ctx, job.BookID, job.ImageURL, job.Refresh, job.CreatedAt)
}

// run moves a job one step: warm it (unless its outcome is known and only
// its notification is pending), record the outcome, deliver it.
func (j *Jobs) run(job *Job) {
	ctx := context.Background()
	j.mu.Lock()
	pending := job.Notify
	j.mu.Unlock()
	if pending == "" {
		if !j.update(ctx, job, func(jb *Job) { jb.State = JobRunning; jb.Attempts++ }) {
			return
		}
		wctx, cancel := context.WithTimeout(ctx, j.cfg.Timeout)
		m, err := j.warmJob(wctx, job)
		cancel()
		var outcome func(*Job)
		switch {
		case err == nil:
			outcome = func(jb *Job) {
				jb.Notify = JobSucceeded
				jb.Version = m.Version
				jb.Manifest = &m
				jb.Error = nil
				jb.CoverStatus = ""
			}
		case errorsIsFinal(err) || j.attempts(job) >= j.cfg.MaxAttempts:
			outcome = func(jb *Job) { jb.Notify = JobFailed; jb.Error = failure(err); jb.CoverStatus = StatusOf(err) }
			j.log.Info("job failed", "job_id", job.ID, "book_id", job.BookID, "code", Code(err), "error", err)
		default:
			j.re.Inc()
			if !j.update(ctx, job, func(jb *Job) { jb.State = JobQueued }) {
				return
			}
			delay := j.backoff(j.attempts(job))
			j.log.Warn("job will retry", "job_id", job.ID, "book_id", job.BookID, "code", Code(err), "retry_in_ms", delay.Milliseconds(), "error", err)
			j.retryAfter(job, delay)
			return
		}
		if !j.update(ctx, job, outcome) {
			return
		}
	}
	j.deliver(ctx, job)
}

// deliver hands a job's outcome to the notifier and finishes the job; when
// the notifier fails the job stays open (running, outcome recorded) and
// delivery is retried with backoff.
func (j *Jobs) deliver(ctx context.Context, job *Job) {
	j.mu.Lock()
	snap := *job
	j.mu.Unlock()
	m := snap.Manifest
	snap.State, snap.Notify, snap.Manifest = snap.Notify, "", nil
	if j.notifier != nil {
		nctx, cancel := context.WithTimeout(ctx, j.cfg.StoreTimeout)
		var err error
		if snap.State == JobSucceeded && m != nil {
			err = j.notifier.JobSucceeded(nctx, snap, *m)
		} else {
			err = j.notifier.JobFailed(nctx, snap)
		}
		cancel()
		if err != nil {
			j.notifyErrors.Inc()
			j.mu.Lock()
			j.tries[job.ID]++
			n := j.tries[job.ID]
			j.mu.Unlock()
			delay := j.backoff(n)
			j.log.Warn("job notification failed; the job stays open and is retried", "job_id", job.ID, "book_id", job.BookID, "retry_in_ms", delay.Milliseconds(), "error", err)
			j.retryAfter(job, delay)
			return
		}
	}
	j.finish(ctx, job, snap)
}

func failure(err error) *JobError {
	code := Code(err)
	reason, _ := PlaceholderReasonOf(err)
	return &JobError{Code: string(code), Message: code.Message(), Reason: string(reason)}
}

func (j *Jobs) attempts(job *Job) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return job.Attempts
}

// backoff is the package's exponential backoff with full jitter
// (Backoff) under the job queue's JOB_RETRY_* settings.
func (j *Jobs) backoff(attempt int) time.Duration {
	return Backoff(attempt, j.cfg.RetryBase, j.cfg.RetryMax, nil)
}

func (j *Jobs) retryAfter(job *Job, delay time.Duration) {
	j.timers.Add(1)
	go func() {
		defer j.timers.Done()
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
			j.recovered("requeue job "+job.ID, func() { j.requeue(job) })
		case <-j.closing:
			// Stays open in the store: taken over after this process.
		}
	}()
}

// requeue puts an active job back in the queue.
func (j *Jobs) requeue(job *Job) {
	j.mu.Lock()
	j.pending = append(j.pending, job.ID)
	j.mu.Unlock()
	select {
	case j.signal <- struct{}{}:
	default:
	}
}

// update changes a job under the lock and writes its open record. A
// passing store failure is logged (the next write, or a takeover, carries
// the state); false means the job was taken over by another process and
// is dropped here.
func (j *Jobs) update(ctx context.Context, job *Job, change func(*Job)) bool {
	j.mu.Lock()
	change(job)
	job.UpdatedAt = j.now().UTC()
	snapshot := *job
	j.mu.Unlock()
	err := j.write(ctx, snapshot)
	switch {
	case err == nil:
		return true
	case errors.Is(err, errNotOwner):
		j.lost.Inc()
		j.log.Warn("job taken over by another replica; dropped here", "job_id", job.ID, "book_id", job.BookID)
		j.drop(job)
		return false
	default:
		j.log.Warn("write job record failed", "job_id", job.ID, "error", err)
		return true
	}
}

// drop forgets a job another process owns now.
func (j *Jobs) drop(job *Job) {
	j.mu.Lock()
	defer j.mu.Unlock()
	delete(j.active, job.ID)
	delete(j.etags, job.ID)
	delete(j.tries, job.ID)
	if j.byKey[jobKey(job.BookID, job.ImageURL)] == job.ID {
		delete(j.byKey, jobKey(job.BookID, job.ImageURL))
	}
}

// finish shows the job as finished and records it. The record is retried
// in the background until the store takes it; until then the job stays in
// the open index and is delivered again after a takeover (at least once).
func (j *Jobs) finish(ctx context.Context, job *Job, final Job) {
	// One critical section: the job is final and no longer found by book and
	// URL at the same moment, so a re-post (e.g. ?refresh=true) right now
	// makes a new job instead of joining the finished one.
	j.mu.Lock()
	final.UpdatedAt = j.now().UTC()
	*job = final
	delete(j.active, job.ID)
	delete(j.tries, job.ID)
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
	if final.State == JobSucceeded {
		j.succeeded.Inc()
		j.log.Info("job succeeded", "job_id", job.ID, "book_id", job.BookID, "version", job.Version)
	} else {
		j.failed.Inc()
	}
	j.record(ctx, final, 0)
}

// record writes a finished job, retrying with backoff until the store
// takes it or the queue closes.
func (j *Jobs) record(ctx context.Context, final Job, attempt int) {
	err := j.close(ctx, final)
	if err == nil {
		return
	}
	j.log.Warn("write finished job record failed; will retry", "job_id", final.ID, "error", err)
	j.timers.Add(1)
	go func() {
		defer j.timers.Done()
		t := time.NewTimer(j.backoff(attempt + 1))
		defer t.Stop()
		select {
		case <-t.C:
			j.recovered("record job "+final.ID, func() { j.record(ctx, final, attempt+1) })
		case <-j.closing:
		}
	}()
}
