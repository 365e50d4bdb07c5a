package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/bookcovers/image-worker/cover"
)

// Event is the value of a book_enriched record. Unknown fields are ignored.
type Event struct {
	BookID        string
	CoverImageURL string
	// EnrichedAt is the event's enriched_at when that is an RFC 3339
	// string, zero otherwise (absent, null, another type, unparsable): the
	// event then orders by its record's time.
	EnrichedAt time.Time
}

// eventJSON is the wire form of an Event.
type eventJSON struct {
	BookID        string          `json:"book_id"`
	CoverImageURL string          `json:"cover_image_url"`
	EnrichedAt    json.RawMessage `json:"enriched_at"`
}

// DecodeEvent parses a record value. It fails with ErrBadEvent when the value
// is not a JSON object, a known field has the wrong type, or book_id is not
// a valid book id. A missing or empty cover_image_url is not an error: the
// event comes back with an empty URL and the consumer skips it.
func DecodeEvent(value []byte) (Event, error) {
	trimmed := bytes.TrimLeft(value, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Event{}, fmt.Errorf("decode event: not a JSON object: %w", ErrBadEvent)
	}
	var w eventJSON
	if err := json.Unmarshal(value, &w); err != nil {
		return Event{}, fmt.Errorf("decode event: %w: %w", ErrBadEvent, err)
	}
	if err := cover.ValidBookID(w.BookID); err != nil {
		return Event{}, fmt.Errorf("decode event: %w: %w", ErrBadEvent, err)
	}
	return Event{BookID: w.BookID, CoverImageURL: w.CoverImageURL, EnrichedAt: parseEnrichedAt(w.EnrichedAt)}, nil
}

// parseEnrichedAt reads an RFC 3339 string (fractional seconds optional);
// anything else is zero.
func parseEnrichedAt(raw json.RawMessage) time.Time {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Unix() <= 0 {
		return time.Time{}
	}
	return t.UTC()
}
