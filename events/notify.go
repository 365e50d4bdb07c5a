package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

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
		err := n.catalog.Update(ctx, CatalogUpdate{
			BookID: m.BookID, Version: m.Version, VersionTime: m.Order(),
			StorageURL: cover.StorageURL(n.bucket, m.OriginalKey()),
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

// JobFailed publishes a failed result so the catalog can show it.
func (n *Notifier) JobFailed(ctx context.Context, job ingest.Job) error {
	if n.results == nil || job.Error == nil {
		return nil
	}
	return n.results.Failed(ctx, job.ID, job.BookID, job.ImageURL, job.Error.Code, job.Error.Message)
}
