package ingest

import (
	"errors"
	"strings"
	"time"

	"github.com/bookcovers/image-worker/cache"
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
	// SubmitTimeout bounds the write of a new job's record, which POST
	// /process waits for (STORE_TIMEOUT in cmd): a hung store answers 503
	// within it.
	SubmitTimeout time.Duration
	Retention     time.Duration // finished job records expire this long after they finish (lifecycle rule)
	RecentJobs    int           // finished jobs kept in memory for GET /jobs
	// Lease is how long a job stays owned by a process that stopped
	// heartbeating (JOB_LEASE): another replica takes it over within
	// about 1.5 leases. The heartbeat is written every Lease/3.
	Lease time.Duration
	// Owner names this process in job records and its heartbeat; empty
	// means host name plus a random suffix, new at every start.
	Owner string
}

// DefaultJobsConfig returns the defaults.
func DefaultJobsConfig() JobsConfig {
	return JobsConfig{
		Workers: 4, QueueSize: 10_000, Timeout: 30 * time.Second, MaxAttempts: 20,
		RetryBase: time.Second, RetryMax: 30 * time.Second, StoreTimeout: 10 * time.Second, SubmitTimeout: 2 * time.Second,
		Retention: 7 * 24 * time.Hour, RecentJobs: 10_000, Lease: 30 * time.Second,
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
	if c.Timeout <= 0 || c.StoreTimeout <= 0 || c.SubmitTimeout <= 0 || c.RetryBase <= 0 || c.RetryMax < c.RetryBase {
		errs = append(errs, errors.New("jobs: timeouts and retry durations must be positive, retry max >= base"))
	}
	if c.Lease < 3*time.Millisecond {
		errs = append(errs, errors.New("JOB_LEASE must be at least 3ms"))
	}
	if c.Owner != "" && cache.ValidKey(cache.JobOwnerKey(c.Owner)) != nil || strings.Contains(c.Owner, "/") {
		errs = append(errs, errors.New("jobs: owner must be usable as one store key segment"))
	}
	if c.MaxAttempts < 1 || c.RecentJobs < 1 || c.Retention <= 0 {
		errs = append(errs, errors.New("jobs: max attempts, recent jobs and retention must be positive"))
	}
	return errors.Join(errs...)
}
