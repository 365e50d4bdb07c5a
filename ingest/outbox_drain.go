package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bookcovers/image-worker/cache"
)

// dispatchBatch bounds the due keys one pass of the dispatcher hands out,
// so a long outage with many entries costs one walk of the map per batch.
const dispatchBatch = 256

// maxLastError bounds the delivery error kept in an entry.
const maxLastError = 512

// outcome is what one attempt at an entry left for the replica to remember.
type outcome struct {
	done     bool      // delivered, or gone: forget the entry
	next     time.Time // otherwise, not before this
	storeErr bool      // the store failed: back off on the replica's own count
}

// scanLoop lists outbox/ at once and every ScanInterval.
func (o *Outbox) scanLoop(ctx context.Context) {
	defer o.wg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-o.closing:
			return
		}
		var err error
		func() {
			defer RecoverTo(&err, o.panics, "outbox scan")
			err = o.scan(ctx)
		}()
		if err != nil {
			o.log.Warn("outbox scan failed; entries already known keep being delivered", "error", err)
		}
		t.Reset(o.cfg.ScanInterval)
	}
}

// scan pages through outbox/, tracking entries it did not know (oldest
// first, up to MaxTracked), and after a whole pass forgets the ones no
// longer there (delivered by another replica).
func (o *Outbox) scan(ctx context.Context) error {
	start := o.now()
	o.mu.Lock()
	o.scanGen++
	gen := o.scanGen
	o.mu.Unlock()
	after, beyond := "", 0
	for {
		select {
		case <-o.closing:
			return nil
		default:
		}
		sctx, cancel := context.WithTimeout(ctx, o.cfg.StoreTimeout)
		keys, err := o.store.ListPage(sctx, cache.OutboxPrefix(), after, o.cfg.PageSize)
		cancel()
		if err != nil {
			return fmt.Errorf("outbox scan: %w", err)
		}
		o.mu.Lock()
		for _, k := range keys {
			if t, ok := o.known[k]; ok {
				t.gen = gen
				continue
			}
			if len(o.known) >= o.cfg.MaxTracked {
				beyond++
				continue
			}
			created, ok := outboxCreated(k)
			if !ok {
				created = start
			}
			o.known[k] = &tracked{created: created, next: start, added: start, gen: gen}
		}
		o.mu.Unlock()
		o.poke()
		if len(keys) < o.cfg.PageSize {
			break
		}
		after = keys[len(keys)-1]
	}
	o.mu.Lock()
	for k, t := range o.known {
		if t.gen != gen && !t.busy && t.added.Before(start) {
			delete(o.known, k)
		}
	}
	o.overflow = beyond
	o.mu.Unlock()
	return nil
}

// dispatchLoop hands due entries to the workers, waking when one is
// recorded or settled, when a scan found some, or when the next comes due.
func (o *Outbox) dispatchLoop(ctx context.Context) {
	defer o.wg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-o.wake:
		case <-t.C:
		case <-o.closing:
			return
		}
		earliest, ok := o.dispatch()
		if !ok {
			return
		}
		t.Stop()
		if !earliest.IsZero() {
			t.Reset(max(0, earliest.Sub(o.now())))
		}
	}
}

// dispatch queues a batch of due entries and returns when the next one not
// yet due comes due (zero: none); ok is false when the outbox is closing.
func (o *Outbox) dispatch() (earliest time.Time, ok bool) {
	o.mu.Lock()
	now := o.now()
	var due []string
	for k, t := range o.known {
		switch {
		case t.busy:
		case !t.next.After(now) && len(due) < dispatchBatch:
			t.busy = true
			due = append(due, k)
		case !t.next.After(now):
			earliest = now // more due than one batch: come back at once
		case earliest.IsZero() || t.next.Before(earliest):
			earliest = t.next
		}
	}
	o.mu.Unlock()
	for i, k := range due {
		select {
		case o.queue <- k:
		case <-o.closing:
			o.mu.Lock()
			for _, k := range due[i:] {
				if t := o.known[k]; t != nil {
					t.busy = false
				}
			}
			o.mu.Unlock()
			return time.Time{}, false
		}
	}
	return earliest, true
}

// work attempts queued entries until the outbox closes.
func (o *Outbox) work(ctx context.Context) {
	defer o.wg.Done()
	for {
		select {
		case key := <-o.queue:
			o.settle(key, o.attemptRecovered(ctx, key))
		case <-o.closing:
			return
		}
	}
}

// attemptRecovered is attempt; a panic outside the delivery (which counts
// as a failed delivery) is logged and the entry looked at again later.
func (o *Outbox) attemptRecovered(ctx context.Context, key string) (res outcome) {
	var err error
	defer func() {
		if err != nil {
			o.log.Error("outbox attempt panicked", "key", key, "error", err)
			res = outcome{next: o.now().Add(o.cfg.RetryMax)}
		}
	}()
	defer RecoverTo(&err, o.panics, "outbox "+key)
	return o.attempt(ctx, key)
}

// settle records the outcome of an attempt in the replica's memory.
func (o *Outbox) settle(key string, res outcome) {
	o.mu.Lock()
	if t := o.known[key]; t != nil {
		switch {
		case res.done:
			delete(o.known, key)
		case res.storeErr:
			t.errs++
			t.busy, t.next = false, o.now().Add(Backoff(t.errs-1, o.cfg.RetryBase, o.cfg.RetryMax, nil))
		default:
			t.errs = 0
			t.busy, t.next = false, res.next
		}
	}
	o.mu.Unlock()
	o.poke()
}

// attempt reads an entry, claims it unless another live replica holds it,
// delivers it and deletes it; a failed delivery is written back with its
// attempt count and the time of the next one.
func (o *Outbox) attempt(ctx context.Context, key string) outcome {
	now := o.now()
	sctx, cancel := context.WithTimeout(ctx, o.cfg.StoreTimeout)
	obj, err := o.store.Get(sctx, key)
	cancel()
	switch {
	case errors.Is(err, cache.ErrNotFound):
		return outcome{done: true} // delivered by another replica
	case err != nil:
		o.log.Warn("outbox read failed", "key", key, "error", err)
		return outcome{storeErr: true}
	}
	var e OutboxEntry
	if err := json.Unmarshal(obj.Data, &e); err != nil || !e.complete() {
		o.deliveryErrs.Inc()
		o.log.Error("outbox entry unreadable; kept for an operator to inspect", "key", key, "error", err)
		return outcome{next: now.Add(o.cfg.RetryMax)}
	}
	if e.NextAttemptAt.After(now) {
		return outcome{next: e.NextAttemptAt}
	}
	if e.Owner != "" && e.Owner != o.cfg.Owner && e.ClaimUntil.After(now) {
		return outcome{next: e.ClaimUntil} // another replica delivers it now
	}
	e.Owner, e.ClaimUntil = o.cfg.Owner, now.Add(o.cfg.ClaimTTL)
	etag, err := o.write(ctx, key, e, obj.ETag)
	switch {
	case errors.Is(err, cache.ErrPrecondition):
		return outcome{next: now.Add(o.cfg.RetryBase)} // changed under us: look again
	case err != nil:
		o.log.Warn("outbox claim failed", "key", key, "error", err)
		return outcome{storeErr: true}
	}

	dctx, cancel := context.WithTimeout(ctx, o.cfg.DeliveryTimeout)
	err = o.deliverOnce(dctx, key, e)
	cancel()
	if err == nil {
		o.delivered.Inc()
		sctx, cancel := context.WithTimeout(ctx, o.cfg.StoreTimeout)
		err := o.store.Delete(sctx, key)
		cancel()
		if err != nil {
			o.log.Warn("outbox entry delivered but not deleted; it will be delivered again", "key", key, "error", err)
			return outcome{storeErr: true}
		}
		return outcome{done: true}
	}
	o.deliveryErrs.Inc()
	e.Attempts++
	e.LastError = err.Error()[:min(len(err.Error()), maxLastError)]
	e.NextAttemptAt = o.now().Add(Backoff(e.Attempts-1, o.cfg.RetryBase, o.cfg.RetryMax, nil))
	e.Owner, e.ClaimUntil = "", time.Time{}
	level := o.log.Warn
	if e.Attempts >= 10 {
		level = o.log.Error
	}
	level("outbox delivery failed; kept and retried", "key", key, "kind", string(e.Kind), "book_id", e.bookID(),
		"attempts", e.Attempts, "retry_in_ms", e.NextAttemptAt.Sub(o.now()).Milliseconds(), "error", err)
	if _, err := o.write(ctx, key, e, etag); err != nil {
		// The claim expires and the entry is taken again: nothing is lost.
		o.log.Warn("outbox: recording a failed attempt failed", "key", key, "error", err)
	}
	return outcome{next: e.NextAttemptAt}
}

// deliverOnce hands the entry to the deliverer; a panic in it is a failed
// delivery.
func (o *Outbox) deliverOnce(ctx context.Context, key string, e OutboxEntry) (err error) {
	defer RecoverTo(&err, o.panics, "outbox delivery "+key)
	switch e.Kind {
	case OutboxFailed:
		return o.deliver.JobFailed(ctx, *e.Job)
	case OutboxRefused:
		return o.deliver.Refused(ctx, *e.Refusal)
	}
	return o.deliver.Succeeded(ctx, *e.Manifest)
}

// write replaces the entry while its ETag is etag and returns the new one.
func (o *Outbox) write(ctx context.Context, key string, e OutboxEntry, etag string) (string, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return "", fmt.Errorf("outbox write: %w", err)
	}
	sctx, cancel := context.WithTimeout(ctx, o.cfg.StoreTimeout)
	defer cancel()
	return o.store.PutIf(sctx, key, data, "application/json", cache.Condition{IfMatch: etag})
}

// complete reports whether the entry carries what its kind delivers.
func (e OutboxEntry) complete() bool {
	switch e.Kind {
	case OutboxSucceeded:
		return e.Manifest != nil
	case OutboxFailed:
		return e.Job != nil
	case OutboxRefused:
		return e.Refusal != nil
	}
	return false
}
