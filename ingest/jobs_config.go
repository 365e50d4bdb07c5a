package ingest

import (
	"errors"
	"time"
)

// JobsConfig configures the job queue.
type JobsConfig struct {
	Workers      int           // concurrent warm jobs (JOB_WORKERS)
	QueueSize    int           // queued jobs beyond which POST /process answers 503
	Timeout      time.Duration // budget of one attempt: fetch + validation + storage
	MaxAttempts  int           // attempts when storage fails passingly
	RetryBase    time.Duration // backoff base for storage retries
	RetryMax     time.Duration // backoff cap
	StoreTimeout time.Duration // budget of one job-record write
	Retention    time.Duration // finished job records older than this are deleted at start-up
	RecentJobs   int           // finished jobs kept in memory for GET /jobs
}

// DefaultJobsConfig returns the defaults.
func DefaultJobsConfig() JobsConfig {
	return JobsConfig{
		Workers: 4, QueueSize: 10_000, Timeout: 30 * time.Second, MaxAttempts: 20,
		RetryBase: time.Second, RetryMax: 30 * time.Second, StoreTimeout: 10 * time.Second,
		Retention: 7 * 24 * time.Hour, RecentJobs: 10_000,
	}
}

// Validate names every problem.
func (c JobsConfig) Validate() error {
	var errs []error
	if c.Workers < 1 {
		errs = append(errs, errors.New("JOB_WORKERS must be at least 1"))
	}
	if c.QueueSize < 1 {
		errs = append(errs, errors.New("JOB_QUEUE_SIZE must be at least 1"))
	}
	if c.Timeout <= 0 || c.StoreTimeout <= 0 || c.RetryBase <= 0 || c.RetryMax < c.RetryBase {
		errs = append(errs, errors.New("jobs: timeouts and retry durations must be positive, retry max >= base"))
	}
	if c.MaxAttempts < 1 || c.RecentJobs < 1 || c.Retention <= 0 {
		errs = append(errs, errors.New("jobs: max attempts, recent jobs and retention must be positive"))
	}
	return errors.Join(errs...)
}
