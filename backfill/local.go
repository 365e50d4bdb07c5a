package backfill

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
)

// Warmer stores a book's cover from its URL: ingest.Warmer. Warm is
// idempotent for a book already at the same URL unless refresh is set, and
// at orders the row against the book's other covers.
type Warmer interface {
	Warm(ctx context.Context, bookID, imageURL string, refresh bool, at time.Time) (cover.Manifest, error)
}

// Manifests loads a book's stored manifest: cache.Manifests.
type Manifests interface {
	Load(ctx context.Context, bookID string) (cover.Manifest, error)
}

// RecordFunc queues the write-back (catalog update, result event) of a
// cover a row stored, for the serving replicas to deliver.
type RecordFunc func(ctx context.Context, m cover.Manifest) error

// RecordRefusalFunc queues the write-back of a refusal (a placeholder, or a
// source without the picture for a book without a cover): its failed result
// event and cover_status.
type RecordRefusalFunc func(ctx context.Context, r ingest.Refusal) error

// LocalDeps is what an in-process backfill warms with.
type LocalDeps struct {
	Warmer        Warmer
	Manifests     Manifests
	Record        RecordFunc        // nil: nothing is written back
	RecordRefusal RecordRefusalFunc // nil: refusals are not written back
}

// LocalWarmer warms rows in this process with the service's Warmer against
// its store.
type LocalWarmer struct {
	deps    LocalDeps
	refresh bool
	timeout time.Duration // a job's budget: fetch plus store; the write-back has one too
}

// NewLocalWarmer warms with deps; refresh downloads every original again,
// timeout is each row's budget (the service's job timeout).
func NewLocalWarmer(deps LocalDeps, refresh bool, timeout time.Duration) (*LocalWarmer, error) {
	if deps.Warmer == nil || deps.Manifests == nil {
		return nil, errors.New("backfill: a local warmer needs a Warmer and Manifests")
	}
	if timeout <= 0 {
		return nil, errors.New("backfill: a local warmer needs a positive row timeout")
	}
	return &LocalWarmer{deps: deps, refresh: refresh, timeout: timeout}, nil
}

// WarmRow calls Warmer.Warm, whose own idempotence skips a book already at
// the same source URL; the manifest read first only tells the two apart.
func (l *LocalWarmer) WarmRow(ctx context.Context, bookID, imageURL string) (Outcome, error) {
	wctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	if !l.refresh && cover.ValidBookID(bookID) == nil {
		if m, err := l.deps.Manifests.Load(wctx, bookID); err == nil && m.SourceURL == imageURL {
			return Skipped, nil
		}
	}
	// A row orders against the book's other covers by when it is warmed,
	// just after it was read: a later row of the same book wins. Warm
	// renders the PRERENDER variants of a stored original (its own budget)
	// before it returns, when the caller wired it so.
	at := time.Now()
	m, err := l.warm(wctx, bookID, imageURL, at)
	if err != nil {
		return 0, l.recordRefusal(ctx, err, bookID, imageURL, at)
	}
	if l.deps.Record == nil {
		return Warmed, nil
	}
	// The write-back has a budget of its own, after any prerender.
	rctx, cancelWB := context.WithTimeout(ctx, l.timeout)
	defer cancelWB()
	if err := l.deps.Record(rctx, m); err != nil {
		// A re-run would skip the book (already at this URL): the code
		// tells the operator to re-run the row with --refresh.
		return 0, &rowError{code: "writeback_not_queued", message: err.Error()}
	}
	return Warmed, nil
}

// The backoff of a warm refused because the render queue is full
// (ingest.Backoff: full jitter up to the base doubled per retry, capped).
const (
	localRetryBase = 100 * time.Millisecond
	localRetryMax  = 2 * time.Second
)

// warm calls Warmer.Warm, and calls it again, after a backoff with jitter,
// while it answers overloaded (the render workers' queue is full: every
// new original is checked in one), until the row's budget is spent. So an
// in-process backfill paces itself to the render workers, as the server
// warmer paces itself to 429 and 503, instead of recording rows as failed;
// the service's own requests and jobs keep being answered at once.
func (l *LocalWarmer) warm(ctx context.Context, bookID, imageURL string, at time.Time) (cover.Manifest, error) {
	for retry := 0; ; retry++ {
		m, err := l.deps.Warmer.Warm(ctx, bookID, imageURL, l.refresh, at)
		if code, ok := cover.CodeOf(err); !ok || code != cover.CodeOverloaded {
			return m, err
		}
		if sleepOrDone(ctx, ingest.Backoff(retry, localRetryBase, localRetryMax, nil)) != nil {
			return m, err
		}
	}
}

// recordRefusal queues the write-back of a warm's failure that is a
// refusal, with a budget of its own, and returns the failure (or, when the
// write-back could not be queued, writeback_not_queued: a re-run refuses and
// records it again).
func (l *LocalWarmer) recordRefusal(ctx context.Context, warmErr error, bookID, imageURL string, at time.Time) error {
	r, ok := ingest.RefusalOf(warmErr, bookID, imageURL, at)
	if !ok || l.deps.RecordRefusal == nil {
		return warmErr
	}
	rctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	if err := l.deps.RecordRefusal(rctx, r); err != nil {
		return &rowError{code: "writeback_not_queued", message: fmt.Sprintf("%v; its write-back: %v", warmErr, err)}
	}
	return warmErr
}
