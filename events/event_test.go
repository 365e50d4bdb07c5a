package events

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
)

func TestDecodeEvent(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    Event
		wantErr bool
	}{
		{"full", `{"book_id":"b-1","cover_image_url":"https://img.example/c.jpg"}`, Event{BookID: "b-1", CoverImageURL: "https://img.example/c.jpg"}, false},
		{"unknown fields ignored", ` {"title":"x","book_id":"b.2","cover_image_url":"u","n":[1,2]}`, Event{BookID: "b.2", CoverImageURL: "u"}, false},
		{"missing url", `{"book_id":"b-3"}`, Event{BookID: "b-3"}, false},
		{"empty url", `{"book_id":"b-4","cover_image_url":""}`, Event{BookID: "b-4"}, false},
		{"null url", `{"book_id":"b-5","cover_image_url":null}`, Event{BookID: "b-5"}, false},
		{"invalid JSON", `{"book_id":`, Event{}, true},
		{"empty value", ``, Event{}, true},
		{"null", `null`, Event{}, true},
		{"array", `[{"book_id":"b"}]`, Event{}, true},
		{"string", `"b-1"`, Event{}, true},
		{"missing book id", `{"cover_image_url":"u"}`, Event{}, true},
		{"book id with slash", `{"book_id":"a/b","cover_image_url":"u"}`, Event{}, true},
		{"book id with leading dot", `{"book_id":".x","cover_image_url":"u"}`, Event{}, true},
		{"numeric book id", `{"book_id":12,"cover_image_url":"u"}`, Event{}, true},
		{"numeric url", `{"book_id":"b","cover_image_url":12}`, Event{}, true},
		{"trailing garbage", `{"book_id":"b"} x`, Event{}, true},
		{"enriched_at", `{"book_id":"b","cover_image_url":"u","enriched_at":"2026-03-01T11:00:00.123456789+01:00"}`,
			Event{BookID: "b", CoverImageURL: "u", EnrichedAt: time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)}, false},
		{"enriched_at in whole seconds", `{"book_id":"b","enriched_at":"2026-03-01T10:00:00Z"}`,
			Event{BookID: "b", EnrichedAt: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}, false},
		{"enriched_at not RFC 3339: ignored", `{"book_id":"b","enriched_at":"2026-03-01 10:00"}`, Event{BookID: "b"}, false},
		{"enriched_at a number: ignored", `{"book_id":"b","enriched_at":1772359200}`, Event{BookID: "b"}, false},
		{"enriched_at null: ignored", `{"book_id":"b","enriched_at":null}`, Event{BookID: "b"}, false},
		{"enriched_at before 1970: ignored", `{"book_id":"b","enriched_at":"1969-12-31T23:59:59Z"}`, Event{BookID: "b"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeEvent([]byte(tt.value))
			if tt.wantErr {
				if !errors.Is(err, ErrBadEvent) {
					t.Errorf("DecodeEvent(%q) error = %v, want ErrBadEvent", tt.value, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("DecodeEvent(%q) = %+v, %v; want %+v, nil", tt.value, got, err, tt.want)
			}
		})
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, s := range []string{`{"book_id":"b","cover_image_url":"u"}`, `{"book_id":"../x"}`, `[]`, `null`, `{"book_id":"b"}`,
		`{"book_id":"b","enriched_at":"2026-03-01T10:00:00.5+01:00"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		ev, err := DecodeEvent(value)
		if err != nil {
			if !errors.Is(err, ErrBadEvent) {
				t.Fatalf("DecodeEvent(%q) error %v does not wrap ErrBadEvent", value, err)
			}
			if ev != (Event{}) {
				t.Fatalf("DecodeEvent(%q) returned %+v with an error", value, ev)
			}
			return
		}
		if cover.ValidBookID(ev.BookID) != nil {
			t.Fatalf("DecodeEvent(%q) accepted invalid book id %q", value, ev.BookID)
		}
		if at := ev.EnrichedAt; !at.IsZero() && (at.Location() != time.UTC || at.Unix() <= 0) {
			t.Fatalf("DecodeEvent(%q) enriched_at = %v, want zero or a UTC time after 1970", value, at)
		}
	})
}

func TestFailureCodes(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		code      string
		retryable bool
	}{
		{"bad event", fmt.Errorf("decode event: %w", ErrBadEvent), "bad_event", false},
		{"outcome", fmt.Errorf("record outcome: %w: x", ErrOutcome), "outcome_failed", true},
		{"storage down", errPassing, "storage_unavailable", true},
		{"not an image", errPermanent, "not_an_image", false},
		{"blocked", fmt.Errorf("fetch: %w", ingest.ErrBlockedAddress), "blocked_address", false},
		{"source 4xx", fmt.Errorf("fetch: %w", ingest.ErrSourceRejected), "source_rejected", false},
		{"fetch timeout", fmt.Errorf("fetch: %w", ingest.ErrTimeout), "timeout", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := failureCode(tt.err); got != tt.code {
				t.Errorf("failureCode(%v) = %q, want %q", tt.err, got, tt.code)
			}
			if got := retryable(tt.err); got != tt.retryable {
				t.Errorf("retryable(%v) = %v, want %v", tt.err, got, tt.retryable)
			}
			if msg := failureMessage(tt.code); msg == "" || msg == "internal error" {
				t.Errorf("failureMessage(%q) = %q, want the code's own text", tt.code, msg)
			}
		})
	}
}
