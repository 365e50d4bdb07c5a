package backfill

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
)

// fakeStore is the Warmer, Manifests and RecordFunc of a LocalWarmer: one
// stored manifest per book, and the calls made.
type fakeStore struct {
	stored    map[string]cover.Manifest
	warmErr   error
	recordErr error
	overloads int // Warm answers overloaded this many times first

	loads, warms []string
	refreshed    []bool
	recorded     []cover.Manifest
	deadline     time.Duration // time left before the Warm context's deadline
}

func (f *fakeStore) Load(_ context.Context, bookID string) (cover.Manifest, error) {
	f.loads = append(f.loads, bookID)
	if m, ok := f.stored[bookID]; ok {
		return m, nil
	}
	return cover.Manifest{}, errors.New("no manifest")
}

func (f *fakeStore) Warm(ctx context.Context, bookID, imageURL string, refresh bool, _ time.Time) (cover.Manifest, error) {
	f.warms = append(f.warms, bookID)
	f.refreshed = append(f.refreshed, refresh)
	if d, ok := ctx.Deadline(); ok {
		f.deadline = time.Until(d)
	}
	if len(f.warms) <= f.overloads {
		return cover.Manifest{}, fmt.Errorf("check: %w", errOverloaded)
	}
	if f.warmErr != nil {
		return cover.Manifest{}, f.warmErr
	}
	return cover.Manifest{BookID: bookID, SourceURL: imageURL, Version: "v2"}, nil
}

// errOverloaded is the render gate's refusal (transform.ErrOverloaded).
var errOverloaded = cover.NewError(cover.CodeOverloaded, "render queue full")

// A warm refused because the render queue is full is tried again within
// the row's budget, and recorded as overloaded only when the budget is
// spent; other failures are not retried.
func TestLocalWarmerWaitsOutOverload(t *testing.T) {
	t.Parallel()
	f := &fakeStore{overloads: 3}
	l, err := NewLocalWarmer(LocalDeps{Warmer: f, Manifests: f, Record: f.record}, false, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	out, err := l.WarmRow(context.Background(), "B1", "http://h/1.jpg")
	if err != nil || out != Warmed || len(f.warms) != 4 || len(f.recorded) != 1 {
		t.Fatalf("after 3 overloads: outcome %v, err %v, %d warms, %d recorded; want Warmed after 4 warms, 1 record", out, err, len(f.warms), len(f.recorded))
	}

	f = &fakeStore{overloads: 1 << 30}
	l, _ = NewLocalWarmer(LocalDeps{Warmer: f, Manifests: f}, false, 500*time.Millisecond)
	_, err = l.WarmRow(context.Background(), "B2", "http://h/2.jpg")
	if code, _ := cover.CodeOf(err); code != cover.CodeOverloaded {
		t.Fatalf("overloaded past the budget: err %v, want code overloaded", err)
	}
	if len(f.warms) < 2 || len(f.warms) > 8 {
		t.Errorf("%d warms in a 500 ms budget with backoff from 100 ms, want 2-8", len(f.warms))
	}

	f = &fakeStore{warmErr: errors.New("source answered 500")}
	l, _ = NewLocalWarmer(LocalDeps{Warmer: f, Manifests: f}, false, 10*time.Second)
	if _, err := l.WarmRow(context.Background(), "B3", "http://h/3.jpg"); err == nil || len(f.warms) != 1 {
		t.Errorf("another failure: err %v after %d warms, want it at once after 1", err, len(f.warms))
	}
}

func (f *fakeStore) record(_ context.Context, m cover.Manifest) error {
	f.recorded = append(f.recorded, m)
	return f.recordErr
}

func TestLocalWarmer(t *testing.T) {
	t.Parallel()
	current := map[string]cover.Manifest{"B1": {BookID: "B1", SourceURL: "http://h/1.jpg", Version: "v1"}}
	cases := []struct {
		name        string
		book, url   string
		refresh     bool
		noRecord    bool
		warmErr     error
		recordErr   error
		want        Outcome
		wantCode    string // "" = no error
		wantWarmed  bool
		wantRecords int
	}{
		{"already at the URL: skipped, nothing fetched", "B1", "http://h/1.jpg", false, false, nil, nil, Skipped, "", false, 0},
		{"another URL: warmed and recorded", "B1", "http://h/2.jpg", false, false, nil, nil, Warmed, "", true, 1},
		{"a new book: warmed and recorded", "B2", "http://h/2.jpg", false, false, nil, nil, Warmed, "", true, 1},
		{"refresh: warmed again", "B1", "http://h/1.jpg", true, false, nil, nil, Warmed, "", true, 1},
		{"no write-backs: warmed", "B2", "http://h/2.jpg", false, true, nil, nil, Warmed, "", true, 0},
		{"the Warmer's failure keeps its code", "B2", "http://h/2.jpg", false, false, fmt.Errorf("fetch: %w", ingest.ErrBlockedAddress), nil, 0, "blocked_address", true, 0},
		{"an invalid id is left to the Warmer", "bad id!", "http://h/2.jpg", false, false, fmt.Errorf("warm: %w", cover.ErrInvalidBookID), nil, 0, "invalid_book_id", true, 0},
		{"write-back not queued", "B2", "http://h/2.jpg", false, false, nil, errors.New("outbox: store down"), 0, "writeback_not_queued", true, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeStore{stored: current, warmErr: tc.warmErr, recordErr: tc.recordErr}
			deps := LocalDeps{Warmer: f, Manifests: f, Record: f.record}
			if tc.noRecord {
				deps.Record = nil
			}
			l, err := NewLocalWarmer(deps, tc.refresh, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			got, err := l.WarmRow(context.Background(), tc.book, tc.url)
			code := ""
			if err != nil {
				code, _ = failureOf(err)
			}
			if got != tc.want || code != tc.wantCode {
				t.Errorf("WarmRow(%s, %s) = %v, %v (code %q); want %v, code %q", tc.book, tc.url, got, err, code, tc.want, tc.wantCode)
			}
			if warmed := len(f.warms) == 1; warmed != tc.wantWarmed || len(f.warms) > 1 {
				t.Errorf("Warm called for %v, want called once: %v", f.warms, tc.wantWarmed)
			}
			if tc.wantWarmed && (f.refreshed[0] != tc.refresh || f.deadline <= 0 || f.deadline > time.Minute) {
				t.Errorf("Warm called with refresh %v, %v before its deadline; want refresh %v within the row's 1m", f.refreshed[0], f.deadline, tc.refresh)
			}
			if len(f.recorded) != tc.wantRecords || tc.wantRecords == 1 && f.recorded[0].BookID != tc.book {
				t.Errorf("recorded %+v, want %d write-backs of %s", f.recorded, tc.wantRecords, tc.book)
			}
			if loaded := len(f.loads) > 0; loaded != (!tc.refresh && tc.book != "bad id!") {
				t.Errorf("manifests loaded %v with refresh %v for %q: the manifest is read only to tell a skip, for a valid id", f.loads, tc.refresh, tc.book)
			}
		})
	}
}

func TestNewLocalWarmerRefuses(t *testing.T) {
	t.Parallel()
	f := &fakeStore{}
	for name, c := range map[string]struct {
		deps    LocalDeps
		timeout time.Duration
	}{
		"no Warmer":    {LocalDeps{Manifests: f}, time.Minute},
		"no Manifests": {LocalDeps{Warmer: f}, time.Minute},
		"no timeout":   {LocalDeps{Warmer: f, Manifests: f}, 0},
	} {
		if _, err := NewLocalWarmer(c.deps, false, c.timeout); err == nil {
			t.Errorf("NewLocalWarmer with %s = nil error, want one", name)
		}
	}
}

// TestLocalWarmerRecordsRefusals: a row whose original is refused as a
// placeholder queues the refusal's write-back (its code, reason and time)
// and keeps the Warmer's error, so the row counts as refused; when the
// write-back cannot be queued the row fails as writeback_not_queued.
func TestLocalWarmerRecordsRefusals(t *testing.T) {
	t.Parallel()
	refusal := fmt.Errorf("warm: %w", &ingest.PlaceholderError{Reason: ingest.ReasonKnown, Detail: "reference r.png"})
	for _, recordErr := range []error{nil, errors.New("outbox: store down")} {
		f := &fakeStore{stored: map[string]cover.Manifest{}, warmErr: refusal}
		var got []ingest.Refusal
		deps := LocalDeps{Warmer: f, Manifests: f, Record: f.record, RecordRefusal: func(_ context.Context, r ingest.Refusal) error {
			got = append(got, r)
			return recordErr
		}}
		l, err := NewLocalWarmer(deps, false, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		before := time.Now()
		_, err = l.WarmRow(context.Background(), "B9", "http://h/none.jpg")
		if len(got) != 1 || got[0].BookID != "B9" || got[0].SourceURL != "http://h/none.jpg" || got[0].Code != cover.CodePlaceholderImage ||
			got[0].Reason != ingest.ReasonKnown || got[0].Status != "" || got[0].At.Before(before.Add(-time.Millisecond)) {
			t.Errorf("recorded refusals = %+v; want B9's, known, placeholder_image, at the warm's time", got)
		}
		reason, refused := refusalOf(err)
		code, _ := failureOf(err)
		switch {
		case recordErr == nil && (!refused || reason != "known" || code != "placeholder_image"):
			t.Errorf("WarmRow = %v (refused %v, reason %q, code %s); want the refusal, known", err, refused, reason, code)
		case recordErr != nil && (refused || code != "writeback_not_queued"):
			t.Errorf("WarmRow with the outbox down = %v (code %s); want writeback_not_queued", err, code)
		}
		if len(f.recorded) != 0 {
			t.Errorf("manifests recorded for a refusal: %+v; want none", f.recorded)
		}
	}
}
