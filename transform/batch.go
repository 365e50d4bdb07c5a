package transform

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// batcher combines Renders of one original that wait for a render slot at
// the same time (concurrent misses for several sizes of one cover): the
// first of them to get a slot takes every other one still waiting, up to
// Config.MaxBatch in all, into one ladder operation (one decode per shrink-on-load
// level, see engine.ladder), and each waiter gets its own result. Only
// requests already queued are combined: nothing waits for company, so a
// lone request costs what it did.
type batcher struct {
	mu      sync.Mutex
	waiting map[batchKey][]*batchEntry
}

// batchKey names an original: the caller's Source and the length of its
// bytes (a cheap guard against a caller reusing a Source for other bytes).
type batchKey struct {
	source string
	size   int
}

// batchEntry is one Render waiting in the gate queue.
type batchEntry struct {
	ctx   context.Context
	req   Request
	taken chan struct{} // closed when another waiter takes this one
	done  chan struct{} // closed when res and err are set
	res   Result
	err   error
}

// renderBatched is Render of a request with a Source (see batcher).
func (r *Renderer) renderBatched(ctx context.Context, src []byte, info Info, req Request) (Result, error) {
	key := batchKey{req.Source, len(src)}
	e := &batchEntry{ctx: ctx, req: req, taken: make(chan struct{}), done: make(chan struct{})}
	r.batch.add(key, e)
	release, err := r.acquire(ctx, e.taken)
	if err != nil {
		if !errors.Is(err, errTaken) && r.batch.remove(key, e) {
			return Result{}, fmt.Errorf("transform render: %w", err)
		}
		return e.wait(ctx) // taken: another waiter renders it
	}
	group := r.batch.take(key, e, r.cfg.MaxBatch)
	if group == nil { // taken just as it got a slot
		release()
		return e.wait(ctx)
	}
	defer release()
	if len(group) == 1 {
		return r.renderOne(ctx, src, info, req)
	}
	r.runBatch(src, info, group)
	return e.wait(ctx)
}

// runBatch renders a group as one ladder and hands each entry its result.
// The operation runs until every member has given up (its context ended),
// so one impatient member never fails the others; when all have, the
// worker is killed as for a Render whose caller left.
func (r *Renderer) runBatch(src []byte, info Info, group []*batchEntry) {
	r.batched.Add(len(group) - 1)
	ctx, cancel := context.WithCancel(context.WithoutCancel(group[0].ctx))
	defer cancel()
	var left atomic.Int64
	left.Store(int64(len(group)))
	reqs := make([]Request, len(group))
	idx := make([]int, len(group))
	for i, m := range group {
		reqs[i], idx[i] = m.req, i
		stop := context.AfterFunc(m.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
		defer stop()
	}
	res := make([]Result, len(group))
	errs := make([]error, len(group))
	finished := false
	defer func() {
		if !finished { // a panic: no member may wait forever
			for _, m := range group {
				m.err = fmt.Errorf("transform render: batch did not finish: %w", ErrRenderFailed)
				close(m.done)
			}
		}
	}()
	_, err := r.ladderOne(ctx, src, info, reqs, idx, res, errs)
	for i, m := range group {
		if err != nil {
			m.err = err
		} else {
			m.res, m.err = res[i], errs[i]
		}
		close(m.done)
	}
	finished = true
}

// wait returns the entry's result, or ctx's error when ctx ends first.
func (e *batchEntry) wait(ctx context.Context) (Result, error) {
	select {
	case <-e.done: // ready: the result, even if ctx has just ended
		return e.res, e.err
	default:
	}
	select {
	case <-e.done:
		return e.res, e.err
	case <-ctx.Done():
		return Result{}, fmt.Errorf("transform render: waiting for a shared render: %w", ctx.Err())
	}
}

func (b *batcher) add(key batchKey, e *batchEntry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.waiting == nil {
		b.waiting = map[batchKey][]*batchEntry{}
	}
	b.waiting[key] = append(b.waiting[key], e)
}

// remove takes e out of the waiting list; false when another waiter has
// already taken it.
func (b *batcher) remove(key batchKey, e *batchEntry) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	list := b.waiting[key]
	for i, w := range list {
		if w == e {
			b.set(key, append(list[:i:i], list[i+1:]...))
			return true
		}
	}
	return false
}

// take removes leader and up to limit-1 other waiters of key, marks the
// others taken, and returns them, leader first; nil when leader was itself
// taken.
func (b *batcher) take(key batchKey, leader *batchEntry, limit int) []*batchEntry {
	b.mu.Lock()
	defer b.mu.Unlock()
	list := b.waiting[key]
	group := []*batchEntry{leader}
	var rest []*batchEntry
	found := false
	for _, w := range list {
		switch {
		case w == leader:
			found = true
		case len(group) < limit:
			group = append(group, w)
		default:
			rest = append(rest, w)
		}
	}
	if !found {
		return nil
	}
	for _, w := range group[1:] {
		close(w.taken)
	}
	b.set(key, rest)
	return group
}

func (b *batcher) set(key batchKey, list []*batchEntry) {
	if len(list) == 0 {
		delete(b.waiting, key)
		return
	}
	b.waiting[key] = list
}
