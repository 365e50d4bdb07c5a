package events

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// HeaderOriginalTimestamp carries the time of the record an event first
// arrived in (RFC 3339) through the DLQ and a redrive, so that a redriven
// event keeps its place in the order of the book's covers.
const HeaderOriginalTimestamp = "original_timestamp"

// orderTime is the time that orders an event's cover against the book's
// others: its enriched_at, else the time of its record (recordTime), else,
// for a record without a usable time, now.
func orderTime(ev Event, rec *kgo.Record, now func() time.Time) time.Time {
	if !ev.EnrichedAt.IsZero() {
		return ev.EnrichedAt
	}
	if t := recordTime(rec); !t.IsZero() {
		return t
	}
	return now()
}

// recordTime is the time a record's event first arrived: the
// original_timestamp header of a redriven record, else the record's own
// timestamp; zero when neither is usable.
func recordTime(rec *kgo.Record) time.Time {
	for _, h := range rec.Headers {
		if h.Key != HeaderOriginalTimestamp {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, string(h.Value)); err == nil && t.Unix() > 0 {
			return t
		}
	}
	if rec.Timestamp.Unix() > 0 {
		return rec.Timestamp
	}
	return time.Time{}
}

// originalTimeHeader is the header that carries recordTime on; none when
// the record has no usable time.
func originalTimeHeader(rec *kgo.Record) []kgo.RecordHeader {
	t := recordTime(rec)
	if t.IsZero() {
		return nil
	}
	return []kgo.RecordHeader{{Key: HeaderOriginalTimestamp, Value: []byte(t.UTC().Format(time.RFC3339Nano))}}
}
