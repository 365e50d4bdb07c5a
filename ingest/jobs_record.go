package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bookcovers/image-worker/cache"
)

// Job records. An open job (queued or running, or waiting for its outcome
// to be delivered) lives at cache.OpenJobKey: that prefix is the index of
// open jobs, so nothing ever lists the history. Every write of an open
// record is conditional on the ETag this process last wrote or read
// (If-Match), so a process that lost a job to a takeover learns it at its
// next write instead of running the job twice. A finished job is written
// once to cache.JobKey, then its open record is deleted; finished records
// expire by the store's lifecycle rule.

// errNotOwner reports that another process took the job over.
var errNotOwner = errors.New("jobs: job taken over by another process")

// marshalJob stamps the lease (this process, now + Lease) on a snapshot
// and encodes it.
func (j *Jobs) marshalJob(job *Job) ([]byte, error) {
	job.Owner = j.owner
	job.LeaseUntil = j.now().UTC().Add(j.cfg.Lease)
	data, err := json.Marshal(job)
	if err != nil {
		return nil, fmt.Errorf("encode job %s: %w", job.ID, err)
	}
	return data, nil
}

// create writes a new open record; it fails if the id exists.
func (j *Jobs) create(ctx context.Context, job *Job) error {
	snap := *job
	data, err := j.marshalJob(&snap)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), j.cfg.SubmitTimeout)
	defer cancel()
	j.mu.Lock()
	j.creating[job.ID] = true // the scan leaves it alone until we know
	j.mu.Unlock()
	defer func() {
		j.mu.Lock()
		delete(j.creating, job.ID)
		j.mu.Unlock()
	}()
	etag, err := j.store.PutIf(sctx, cache.OpenJobKey(job.ID), data, "application/json", cache.Condition{IfNoneMatch: true})
	if errors.Is(err, cache.ErrTimeout) {
		// POST /process's contract knows 503 for a store that cannot take
		// the job, whether it refused or did not answer in time.
		return fmt.Errorf("save job %s: %w: %w", job.ID, cache.ErrUnavailable, err)
	}
	if err != nil {
		return fmt.Errorf("save job %s: %w", job.ID, err)
	}
	j.mu.Lock()
	j.etags[job.ID] = etag
	j.mu.Unlock()
	return nil
}

// write replaces the open record of a job this process owns with snap. A
// condition that fails because our own earlier write landed unseen (its
// answer was lost) is healed by re-reading: the record still names us.
// errNotOwner means the job is another process's now.
func (j *Jobs) write(ctx context.Context, snap Job) error {
	data, err := j.marshalJob(&snap)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), j.cfg.StoreTimeout)
	defer cancel()
	for range 2 {
		j.mu.Lock()
		etag := j.etags[snap.ID]
		j.mu.Unlock()
		cond := cache.Condition{IfMatch: etag}
		if etag == "" {
			cond = cache.Condition{IfNoneMatch: true}
		}
		newTag, err := j.store.PutIf(sctx, cache.OpenJobKey(snap.ID), data, "application/json", cond)
		if err == nil {
			j.mu.Lock()
			j.etags[snap.ID] = newTag
			j.mu.Unlock()
			return nil
		}
		if !errors.Is(err, cache.ErrPrecondition) {
			return fmt.Errorf("save job %s: %w", snap.ID, err)
		}
		cur, curTag, err := j.loadOpen(sctx, snap.ID)
		if err != nil && !errors.Is(err, ErrJobNotFound) {
			return fmt.Errorf("save job %s: %w", snap.ID, err)
		}
		if err != nil || cur.Owner != j.owner {
			return fmt.Errorf("save job %s: %w", snap.ID, errNotOwner)
		}
		j.mu.Lock()
		j.etags[snap.ID] = curTag
		j.mu.Unlock()
	}
	return fmt.Errorf("save job %s: %w", snap.ID, errNotOwner)
}

// close records a finished job and removes it from the open index.
func (j *Jobs) close(ctx context.Context, snap Job) error {
	snap.Owner, snap.LeaseUntil, snap.Notify, snap.Manifest = "", time.Time{}, "", nil
	data, err := json.Marshal(snap)
	if err != nil {
		return fmt.Errorf("close job %s: %w", snap.ID, err)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), j.cfg.StoreTimeout)
	defer cancel()
	if err := j.store.Put(sctx, cache.JobKey(snap.ID), data, "application/json"); err != nil {
		return fmt.Errorf("close job %s: %w", snap.ID, err)
	}
	if err := j.store.Delete(sctx, cache.OpenJobKey(snap.ID)); err != nil {
		return fmt.Errorf("close job %s: %w", snap.ID, err)
	}
	j.mu.Lock()
	delete(j.etags, snap.ID)
	j.mu.Unlock()
	return nil
}

// load returns a job's record: the finished one, else the open one.
func (j *Jobs) load(ctx context.Context, id string) (Job, error) {
	job, err := j.loadKey(ctx, cache.JobKey(id), id)
	if !errors.Is(err, ErrJobNotFound) {
		return job, err
	}
	job, _, err = j.loadOpen(ctx, id)
	return job, err
}

// loadOpen returns a job's open record and its ETag.
func (j *Jobs) loadOpen(ctx context.Context, id string) (Job, string, error) {
	obj, err := j.store.Get(ctx, cache.OpenJobKey(id))
	if err != nil {
		return Job{}, "", classifyLoad(id, err)
	}
	job, err := decodeJob(id, obj.Data)
	return job, obj.ETag, err
}

func (j *Jobs) loadKey(ctx context.Context, key, id string) (Job, error) {
	obj, err := j.store.Get(ctx, key)
	if err != nil {
		return Job{}, classifyLoad(id, err)
	}
	return decodeJob(id, obj.Data)
}

func classifyLoad(id string, err error) error {
	if errors.Is(err, cache.ErrNotFound) {
		return fmt.Errorf("load job %s: %w", id, ErrJobNotFound)
	}
	return fmt.Errorf("load job %s: %w", id, err)
}

func decodeJob(id string, data []byte) (Job, error) {
	var job Job
	if err := json.Unmarshal(data, &job); err != nil {
		return Job{}, fmt.Errorf("load job %s: decode: %w", id, err)
	}
	return job, nil
}
