package ingest

import (
	"errors"
	"time"

	"github.com/bookcovers/image-worker/cover"
)

// CoverStatus is what the catalog's cover_status column (CATALOG_STATUS_COLUMN)
// says of a book: ok with every cover written back; missing or placeholder
// only for a book that holds no cover (so a shop never marks a book missing
// while a real cover is served).
type CoverStatus string

// Cover statuses.
const (
	CoverOK          CoverStatus = "ok"          // a cover is stored and written back
	CoverMissing     CoverStatus = "missing"     // no cover: the source answered 404 or 410
	CoverPlaceholder CoverStatus = "placeholder" // no cover: the source sent a placeholder
)

// ErrSourceGone is wrapped, with ErrSourceRejected (its code stays
// source_rejected), when the source answered 404 Not Found or 410 Gone: it
// has no such picture, which a catalog may show as a missing cover.
var ErrSourceGone = errors.New("ingest: the source has no such image (404 or 410)")

// noCoverError marks a failed warm of a book that held no cover when it
// failed, and whose failure says its source has none either.
type noCoverError struct {
	err    error
	status CoverStatus
}

func (e *noCoverError) Error() string { return e.err.Error() }
func (e *noCoverError) Unwrap() error { return e.err }

// uncovered marks err, the failure of a warm of a book that holds no cover,
// with the status it leaves: placeholder for a refused placeholder, missing
// for a source that answered 404 or 410; any other error is returned as is.
func uncovered(err error) error {
	switch {
	case errors.Is(err, ErrPlaceholder):
		return &noCoverError{err: err, status: CoverPlaceholder}
	case errors.Is(err, ErrSourceGone):
		return &noCoverError{err: err, status: CoverMissing}
	}
	return err
}

// StatusOf is the cover_status a failed warm leaves in the catalog:
// placeholder or missing when the book held no cover and the source has
// none; "" otherwise (the book keeps the cover it has, or the failure says
// nothing of the source's picture: a timeout, a corrupt file).
func StatusOf(err error) CoverStatus {
	var nc *noCoverError
	if errors.As(err, &nc) {
		return nc.status
	}
	return ""
}

// Refusal is a final answer about a book's source that is not a cover: an
// original refused as a placeholder, or a source without the picture (404,
// 410) for a book that holds no cover. The Kafka consumer and an
// in-process backfill record one (Outbox.Refused) so that the result event
// and the catalog's cover_status tell it; a POST /process job carries the
// same in its record (Job.Error, Job.CoverStatus).
type Refusal struct {
	BookID    string            `json:"book_id"`
	SourceURL string            `json:"source_url"` // as submitted; published redacted
	Code      cover.Code        `json:"code"`
	Reason    PlaceholderReason `json:"reason,omitempty"`
	// Status is the cover_status to write, "" when the book keeps its cover
	// (only the result event is published then).
	Status CoverStatus `json:"cover_status,omitempty"`
	// At is the version time of the attempt: status writes are ordered
	// like covers (cover.OrderTime).
	At time.Time `json:"at"`
}

// RefusalOf is the Refusal a failed warm of bookID from sourceURL, ordered
// at at, makes; false when err is none: not a placeholder, and no status
// to write.
func RefusalOf(err error, bookID, sourceURL string, at time.Time) (Refusal, bool) {
	reason, placeholder := PlaceholderReasonOf(err)
	status := StatusOf(err)
	if !placeholder && status == "" {
		return Refusal{}, false
	}
	return Refusal{
		BookID: bookID, SourceURL: sourceURL, Code: Code(err), Reason: reason,
		Status: status, At: cover.OrderTime(at),
	}, true
}
