package events

import (
	"errors"

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

// Failure codes of the adapter itself; every other code is ingest.Code's.
const (
	codeBadEvent      = "bad_event"
	codeOutcomeFailed = "outcome_failed"
)

// failureCode is the stable code carried in the error_code header and the
// covers_kafka_dead_letters_total label (a bounded set).
func failureCode(err error) string {
	switch {
	case errors.Is(err, ErrBadEvent):
		return codeBadEvent
	case errors.Is(err, ErrOutcome):
		return codeOutcomeFailed
	}
	return ingest.Code(err)
}

// failureMessage is the fixed public text of a code; internals stay in logs.
func failureMessage(code string) string {
	switch code {
	case codeBadEvent:
		return "the event is not a JSON object with a valid book_id"
	case codeOutcomeFailed:
		return "the result could not be published or recorded"
	}
	return ingest.Message(code)
}

// retryable reports whether a failed attempt may pass later.
func retryable(err error) bool {
	return errors.Is(err, ErrOutcome) || ingest.Retryable(err)
}
