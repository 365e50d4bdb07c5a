package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
)

// Notifier tells the rest of the system where a processed cover lives: a
// result event (Results) and the catalog write-back (Catalog, optional). It
// serves both the consumer (Outcomes) and the POST /process job queue
// (ingest.Notifier), so both paths report the same way.
type Notifier struct {
	results *Results // nil: no result events
	catalog *Catalog // nil: no write-back
	bucket  string
	log     *slog.Logger
}

// NewNotifier combines the two outlets; either may be nil.
func NewNotifier(results *Results, catalog *Catalog, bucket string, logger *slog.Logger) *Notifier {
	return &Notifier{results: results, catalog: catalog, bucket: bucket, log: logger}
}

// Succeeded publishes the result event and writes the catalog row. A book
// without a catalog row is logged and counted by the catalog, not retried.
func (n *Notifier) Succeeded(ctx context.Context, m cover.Manifest) error {
	if n.results != nil {
		if err := n.results.Succeeded(ctx, m); err != nil {
			return fmt.Errorf("notify %s: %w", m.BookID, err)
		}
	}
	if n.catalog != nil {
		width, height := m.RenderSize() // the trim box's, when the cover has one
		err := n.catalog.Update(ctx, CatalogUpdate{
			BookID: m.BookID, Version: m.Version, VersionTime: m.Order(),
			StorageURL: cover.StorageURL(n.bucket, m.OriginalKey()),
			Width:      width, Height: height, DominantColor: m.DominantColor, BlurHash: m.BlurHash,
		})
		if err != nil && !errors.Is(err, ErrCatalogNoRow) {
			return fmt.Errorf("notify %s: %w", m.BookID, err)
		}
	}
	return nil
}

// JobSucceeded reports a finished POST /process job.
func (n *Notifier) JobSucceeded(ctx context.Context, _ ingest.Job, m cover.Manifest) error {
	return n.Succeeded(ctx, m)
}

// JobFailed publishes a failed result so the catalog can show it, and
// writes the job's cover_status when it leaves one (a book without a cover
// whose source has none), ordered by the job's arrival like its cover
// would have been.
func (n *Notifier) JobFailed(ctx context.Context, job ingest.Job) error {
	if job.Error == nil {
		return nil
	}
	return n.failed(ctx, Failure{
		JobID: job.ID, BookID: job.BookID, SourceURL: job.ImageURL,
		Code: cover.Code(job.Error.Code), Reason: job.Error.Reason, CoverStatus: string(job.CoverStatus),
	}, job.CreatedAt)
}

// Refused publishes a refusal outside a job (a Kafka event, a backfill
// row) as a failed result and writes its cover_status when it has one.
func (n *Notifier) Refused(ctx context.Context, r ingest.Refusal) error {
	return n.failed(ctx, refusalFailure(r), r.At)
}

// failed publishes f and writes its cover_status, at version time at.
func (n *Notifier) failed(ctx context.Context, f Failure, at time.Time) error {
	if n.results != nil {
		if err := n.results.Failed(ctx, f); err != nil {
			return fmt.Errorf("notify %s: %w", f.BookID, err)
		}
	}
	if n.catalog != nil && f.CoverStatus != "" {
		err := n.catalog.UpdateStatus(ctx, f.BookID, f.CoverStatus, cover.OrderTime(at))
		if err != nil && !errors.Is(err, ErrCatalogNoRow) {
			return fmt.Errorf("notify %s: %w", f.BookID, err)
		}
	}
	return nil
}
