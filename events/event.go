package events

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/bookcovers/image-worker/cache"
)

// Event is the value of a book_enriched record. Unknown fields are ignored.
type Event struct {
	BookID        string `json:"book_id"`
	CoverImageURL string `json:"cover_image_url"`
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
	var ev Event
	if err := json.Unmarshal(value, &ev); err != nil {
		return Event{}, fmt.Errorf("decode event: %w: %w", ErrBadEvent, err)
	}
	if err := cache.ValidBookID(ev.BookID); err != nil {
		return Event{}, fmt.Errorf("decode event: %w: %w", ErrBadEvent, err)
	}
	return ev, nil
}
