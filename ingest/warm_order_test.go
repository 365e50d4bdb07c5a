package ingest

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/transform"
)

// countingSource serves "cover of <url>" for every URL and counts fetches.
type countingSource struct {
	mu      sync.Mutex
	fetches map[string]int
}

func (s *countingSource) Fetch(_ context.Context, rawURL string) (Fetched, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fetches[rawURL]++
	return Fetched{Body: []byte("cover of " + rawURL), ContentType: "image/jpeg", FinalURL: rawURL, Attempts: 1}, nil
}

func (s *countingSource) count(rawURL string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches[rawURL]
}

// acceptAll passes every original as a small JPEG.
type acceptAll struct{}

func (acceptAll) Check(context.Context, []byte) (transform.Checked, error) {
	return transform.Checked{Info: transform.Info{ContentType: "image/jpeg", Width: 10, Height: 15}}, nil
}

// TestWarmNeverMovesBack: Warm with a time not after the book's current
// cover fetches nothing and answers with the current manifest; a later
// time fetches a new URL, or only moves the time of the same URL; Store
// (import) with an older time leaves the manifest alone.
func TestWarmNeverMovesBack(t *testing.T) {
	t.Parallel()
	store, err := cache.NewLocalStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	src := &countingSource{fetches: map[string]int{}}
	manifests := cache.NewManifests(store, time.Minute, 5*time.Second)
	w := NewWarmer(src, store, manifests, acceptAll{}, slog.New(slog.DiscardHandler))
	ctx := t.Context()
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	const newURL, oldURL, otherURL = "https://img.example/new.jpg", "https://img.example/old.jpg", "https://img.example/other.jpg"

	first, err := w.Warm(ctx, "B1", newURL, false, t0)
	if err != nil || first.Version != Version([]byte("cover of "+newURL)) || !first.VersionTime.Equal(t0) {
		t.Fatalf("Warm(new, t0) = %+v, %v; want the new cover at %s", first, err, t0)
	}
	steps := []struct {
		name     string
		url      string
		at       time.Time
		fetches  int    // of url after the step
		wantURL  string // of the answer, whose version is of that URL's bytes
		wantTime time.Time
	}{
		{"older event, other URL", oldURL, t0.Add(-time.Second), 0, newURL, t0},
		{"same time, other URL", otherURL, t0, 0, newURL, t0},
		{"later by less than a microsecond is the same time", otherURL, t0.Add(999 * time.Nanosecond), 0, newURL, t0},
		{"later, same URL: only the time moves", newURL, t0.Add(time.Minute), 1, newURL, t0.Add(time.Minute)},
		{"older than the moved time, other URL", oldURL, t0.Add(30 * time.Second), 0, newURL, t0.Add(time.Minute)},
		{"later, other URL", otherURL, t0.Add(time.Hour), 1, otherURL, t0.Add(time.Hour)},
	}
	for _, s := range steps {
		got, err := w.Warm(ctx, "B1", s.url, false, s.at)
		if err != nil || got.SourceURL != s.wantURL || !got.VersionTime.Equal(s.wantTime) ||
			got.Version != Version([]byte("cover of "+s.wantURL)) {
			t.Fatalf("%s: Warm(%s, %s) = %+v, %v; want %s at %s", s.name, s.url, s.at, got, err, s.wantURL, s.wantTime)
		}
		if n := src.count(s.url); n != s.fetches {
			t.Errorf("%s: %s fetched %d times, want %d", s.name, s.url, n, s.fetches)
		}
		if stored, err := manifests.Load(ctx, "B1"); err != nil || stored != got {
			t.Fatalf("%s: stored manifest %+v, %v; want Warm's answer %+v", s.name, stored, err, got)
		}
	}

	imported, err := w.Store(ctx, "B1", "import:old.jpg", []byte("an older file"), t0)
	if err != nil || imported.SourceURL != otherURL {
		t.Fatalf("Store(older file) = %+v, %v; want the current %s kept", imported, err, otherURL)
	}
	if n := src.count(oldURL); n != 0 {
		t.Errorf("the older URL was fetched %d times, want never", n)
	}
}
