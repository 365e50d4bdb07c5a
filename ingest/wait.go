package ingest

import (
	"context"
	"fmt"
)

// doneSignals holds one channel per job that somebody waits for; finish
// closes and drops it. It is guarded by Jobs.mu, and its zero value (nil)
// is ready to use.
type doneSignals map[string]chan struct{}

// signal wakes every waiter of job id. Call with Jobs.mu held.
func (d doneSignals) signal(id string) {
	if ch, ok := d[id]; ok {
		close(ch)
		delete(d, id)
	}
}

// Wait returns job id once it is finished (succeeded or failed), or its
// latest state together with ctx's error when ctx ends first. A job this
// process is not running (already finished, or queued on another replica)
// is returned at once as recorded, so callers check Job.State.Finished().
// Waiting costs no polling: finish closes a channel per waited-for job.
func (j *Jobs) Wait(ctx context.Context, id string) (Job, error) {
	if err := ValidJobID(id); err != nil {
		return Job{}, fmt.Errorf("wait job: %w", err)
	}
	j.mu.Lock()
	job, active := j.active[id]
	if !active {
		j.mu.Unlock()
		return j.Get(ctx, id)
	}
	if j.done == nil {
		j.done = doneSignals{}
	}
	ch, ok := j.done[id]
	if !ok {
		ch = make(chan struct{})
		j.done[id] = ch
	}
	snapshot := *job
	j.mu.Unlock()
	select {
	case <-ch:
		return j.Get(ctx, id)
	case <-ctx.Done():
		j.mu.Lock()
		if cur, ok := j.active[id]; ok {
			snapshot = *cur
		}
		j.mu.Unlock()
		return snapshot, fmt.Errorf("wait job %s: %w", id, ctx.Err())
	}
}
