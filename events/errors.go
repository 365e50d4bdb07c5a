package events

import (
	"errors"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
)

// Errors of the Kafka adapter; test with errors.Is.
var (
	// ErrBadEvent: the record value is not a JSON object with a valid book_id.
	ErrBadEvent = errors.New("events: bad event")
	// ErrDLQUnavailable: a dead letter could not be written; the record is
	// not committed and the write is retried.
	ErrDLQUnavailable = errors.New("events: dead-letter queue unavailable")
	// ErrOutcome: Outcomes.Succeeded failed (result event or catalog write);
	// the record is retried like any passing failure.
	ErrOutcome = errors.New("events: outcome not recorded")
	// errStopped: the partition was revoked or the consumer is stopping
	// before the record reached a final outcome.
	errStopped = errors.New("events: partition stopping")
)

// failureCode is the stable code carried in the error_code header and the
// covers_kafka_dead_letters_total label (a bounded set): the adapter's own
// codes (cover.CodeBadEvent, cover.CodeOutcomeFailed), else ingest.Code's.
func failureCode(err error) string {
	switch {
	case errors.Is(err, ErrBadEvent):
		return string(cover.CodeBadEvent)
	case errors.Is(err, ErrOutcome):
		return string(cover.CodeOutcomeFailed)
	}
	return string(ingest.Code(err))
}

// failureMessage is the fixed public text of a code; internals stay in logs.
func failureMessage(code string) string { return cover.Code(code).Message() }

// retryable reports whether a failed attempt may pass later.
func retryable(err error) bool {
	return errors.Is(err, ErrOutcome) || ingest.Retryable(err)
}
