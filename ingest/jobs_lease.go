package ingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/bookcovers/image-worker/cache"
)

// Leases. Every open job record names its owner (the job queue process
// that runs it) and a lease expiry. Renewing each record would cost one
// write per queued job; instead each process writes one heartbeat,
// cache.JobOwnerKey(owner), every Lease/3, holding its own expiry, and that
// expiry extends the lease of every job it owns. A job is free when its
// owner's heartbeat has expired, or, for an owner with no heartbeat yet
// (the few seconds after its start), when the record's own LeaseUntil has
// passed. A free job is taken with a conditional write of its record
// (If-Match on the ETag read): of two processes taking it, one wins.
//
// Every process scans the open-jobs index (cache.OpenJobsPrefix, never the
// history) at start, in the background, and every Lease/2, page by page,
// so a dead process's jobs run elsewhere within about 1.5 leases, and a
// process that stops cleanly expires its heartbeat at once.

// scanPage is the listing page of the open-jobs scan.
const scanPage = 500

// heartbeat is the body of an owner's heartbeat.
type heartbeat struct {
	Owner   string    `json:"owner"`
	Expires time.Time `json:"expires"`
}

// defaultOwner is the host name plus a random suffix: unique per start.
func defaultOwner() string {
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if r == '/' || r < 0x21 || r > 0x7e {
			return '-'
		}
		return r
	}, host)
	var b [4]byte
	_, _ = rand.Read(b[:])
	if host == "" {
		host = "jobs"
	}
	return host + "-" + hex.EncodeToString(b[:])
}

// beat writes this process's heartbeat with the given expiry.
func (j *Jobs) beat(ctx context.Context, expires time.Time) error {
	data, _ := json.Marshal(heartbeat{Owner: j.owner, Expires: expires.UTC()})
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), j.cfg.StoreTimeout)
	defer cancel()
	if err := j.store.Put(sctx, cache.JobOwnerKey(j.owner), data, "application/json"); err != nil {
		return fmt.Errorf("job heartbeat: %w", err)
	}
	return nil
}

// heartbeatLoop renews the heartbeat every Lease/3 until the queue
// closes. It has its own goroutine: a long scan must never delay it, or
// other replicas would take over jobs this one is running.
func (j *Jobs) heartbeatLoop() {
	defer j.loops.Done()
	j.every(j.cfg.Lease/3, "job heartbeat", func() {
		if err := j.beat(context.Background(), j.now().Add(j.cfg.Lease)); err != nil {
			j.log.Warn("job heartbeat failed", "error", err)
		}
	})
}

// scanLoop scans for free jobs at once and then every Lease/2.
func (j *Jobs) scanLoop() {
	defer j.loops.Done()
	j.every(j.cfg.Lease/2, "job scan", func() { j.scan(context.Background()) })
}

// every runs fn now and then period after each run ends, until the queue
// closes; a panic in fn is logged and counted and the loop goes on.
func (j *Jobs) every(period time.Duration, what string, fn func()) {
	for {
		j.recovered(what, fn)
		t := time.NewTimer(period)
		select {
		case <-t.C:
		case <-j.closing:
			t.Stop()
			return
		}
	}
}

// recovered runs one round of a background loop; a panic is logged and
// counted and the loop goes on.
func (j *Jobs) recovered(what string, fn func()) {
	var err error
	defer func() {
		if err != nil {
			j.log.Error(what+" panicked", "error", err)
		}
	}()
	defer RecoverTo(&err, j.panics, what)
	fn()
}

// scan pages through the open-jobs index and takes every free job it can
// hold in its queue.
func (j *Jobs) scan(ctx context.Context) {
	r := scanRound{owners: map[string]time.Time{}, seen: map[string]string{}}
	after := ""
	for {
		select {
		case <-j.closing:
			return
		default:
		}
		lctx, cancel := context.WithTimeout(ctx, j.cfg.StoreTimeout)
		keys, err := j.store.ListPage(lctx, cache.OpenJobsPrefix(), after, scanPage)
		cancel()
		if err != nil {
			j.log.Warn("scan open jobs failed", "error", err)
			return
		}
		for _, k := range keys {
			if j.queueFull() {
				return
			}
			j.consider(ctx, strings.TrimPrefix(k, cache.OpenJobsPrefix()), r)
		}
		if len(keys) < scanPage {
			j.mu.Lock()
			j.seen = r.seen // forget jobs that left the index
			j.mu.Unlock()
			return
		}
		after = keys[len(keys)-1]
	}
}

func (j *Jobs) queueFull() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.pending) >= j.cfg.QueueSize
}

// scanRound is what one scan learnt: each owner's lease expiry, and the
// owner of each job found owned by a live process.
type scanRound struct {
	owners map[string]time.Time
	seen   map[string]string
}

// consider takes the open job id if it is free. Jobs this process runs and
// jobs whose owner is still alive since the last round cost no read.
func (j *Jobs) consider(ctx context.Context, id string, r scanRound) {
	owners := r.owners
	if ValidJobID(id) != nil {
		return
	}
	j.mu.Lock()
	_, mine := j.active[id]
	owner, seen := j.seen[id]
	j.mu.Unlock()
	if mine {
		return
	}
	now := j.now()
	if seen && now.Before(j.heartbeatExpiry(ctx, owner, owners, now)) {
		r.seen[id] = owner
		return
	}
	sctx, cancel := context.WithTimeout(ctx, j.cfg.StoreTimeout)
	defer cancel()
	rec, etag, err := j.loadOpen(sctx, id)
	if err != nil {
		if !errors.Is(err, ErrJobNotFound) {
			j.log.Warn("read open job failed", "job_id", id, "error", err)
		}
		return
	}
	if rec.Owner == j.owner {
		j.mu.Lock()
		_, recording := j.etags[id]
		creating := j.creating[id]
		j.mu.Unlock()
		if recording || creating {
			return // being created, or recorded as finished, by this process
		}
		// A record this process created although its write timed out (the
		// store took it after Submit gave up): run it rather than leave it
		// owned by nobody who knows of it.
	}
	if rec.Owner != "" {
		exp := j.heartbeatExpiry(sctx, rec.Owner, owners, now)
		if exp.IsZero() {
			exp = rec.LeaseUntil // no heartbeat (yet): the record's own lease
		}
		if now.Before(exp) {
			r.seen[id] = rec.Owner
			return
		}
	}
	j.take(sctx, rec, etag)
}

// heartbeatExpiry is when owner's heartbeat expires: zero when it has
// none, deadOwner when it has expired. An answer still in the future is
// reused for the scan round; one that has passed is read again before the
// owner is deemed dead, since the owner may have renewed it while the
// round went on. A store failure counts as alive for now.
func (j *Jobs) heartbeatExpiry(ctx context.Context, owner string, owners map[string]time.Time, now time.Time) time.Time {
	if exp, ok := owners[owner]; ok && (now.Before(exp) || exp.IsZero() || exp.Equal(deadOwner)) {
		return exp
	}
	sctx, cancel := context.WithTimeout(ctx, j.cfg.StoreTimeout)
	defer cancel()
	obj, err := j.store.Get(sctx, cache.JobOwnerKey(owner))
	var hb heartbeat
	var exp time.Time
	switch {
	case err == nil && json.Unmarshal(obj.Data, &hb) == nil:
		exp = deadOwner
		if now.Before(hb.Expires) {
			exp = hb.Expires
		}
	case err != nil && !errors.Is(err, cache.ErrNotFound):
		exp = now.Add(j.cfg.Lease)
	}
	owners[owner] = exp
	return exp
}

// deadOwner marks an owner whose heartbeat was read and found expired in
// this round.
var deadOwner = time.Unix(0, 0)

// take makes a free job this process's with a conditional write and
// queues it. A job whose finished record exists (its owner died between
// recording it and dropping the open one) is only dropped from the index.
func (j *Jobs) take(ctx context.Context, rec Job, etag string) {
	if _, err := j.loadKey(ctx, cache.JobKey(rec.ID), rec.ID); err == nil {
		_ = j.store.Delete(ctx, cache.OpenJobKey(rec.ID))
		return
	}
	prev := rec.Owner
	if rec.Notify == "" {
		rec.State = JobQueued
	}
	data, err := j.marshalJob(&rec)
	if err != nil {
		return
	}
	newTag, err := j.store.PutIf(ctx, cache.OpenJobKey(rec.ID), data, "application/json", cache.Condition{IfMatch: etag})
	if err != nil {
		if !errors.Is(err, cache.ErrPrecondition) {
			j.log.Warn("take over job failed", "job_id", rec.ID, "error", err)
		}
		return
	}
	j.mu.Lock()
	j.etags[rec.ID] = newTag
	j.mu.Unlock()
	j.takeovers.Inc()
	j.log.Info("job taken over", "job_id", rec.ID, "book_id", rec.BookID, "previous_owner", prev, "owner", j.owner)
	j.enqueue(&rec)
}
