package cache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
)

func TestManifestsOrderLocal(t *testing.T) {
	t.Parallel()
	runManifestOrder(t, func(t *testing.T) Store { return newLocalTestStore(t, t.TempDir()) }, 40)
}

// runManifestOrder: Manifests.Advance only moves a book's cover forward,
// on any Store; racers rounds of replicas racing on one book end on the
// newest cover.
func runManifestOrder(t *testing.T, newStore func(t *testing.T) Store, racers int) {
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	coverAt := func(version string, vt time.Time) cover.Manifest {
		return cover.Manifest{BookID: "B1", Version: version, SourceURL: "https://img.example/" + version, VersionTime: vt}
	}
	t.Run("OnlyForward", func(t *testing.T) {
		t.Parallel()
		ms := NewManifests(newStore(t), time.Hour, 5*time.Second)
		steps := []struct {
			name string
			put  cover.Manifest
			want cover.Manifest // current afterwards, and Advance's answer
		}{
			{"first cover", coverAt("aaaaaaaaaaaa", at(0)), coverAt("aaaaaaaaaaaa", at(0))},
			{"older cover refused", coverAt("bbbbbbbbbbbb", at(-time.Second)), coverAt("aaaaaaaaaaaa", at(0))},
			{"same time, other cover: the first stays", coverAt("cccccccccccc", at(0)), coverAt("aaaaaaaaaaaa", at(0))},
			{"one microsecond newer replaces", coverAt("dddddddddddd", at(time.Microsecond)), coverAt("dddddddddddd", at(time.Microsecond))},
			{"same cover, later time moves the time", coverAt("dddddddddddd", at(time.Hour)), coverAt("dddddddddddd", at(time.Hour))},
			{"the first cover again, older, refused", coverAt("aaaaaaaaaaaa", at(time.Minute)), coverAt("dddddddddddd", at(time.Hour))},
		}
		for _, s := range steps {
			got, err := ms.Advance(t.Context(), s.put)
			if err != nil || got != s.want {
				t.Fatalf("%s: Advance(%s at %s) = %+v, %v; want %+v", s.name, s.put.Version, s.put.VersionTime, got, err, s.want)
			}
			if stored, err := ms.Load(t.Context(), "B1"); err != nil || stored != s.want {
				t.Fatalf("%s: stored manifest = %+v, %v; want %+v", s.name, stored, err, s.want)
			}
			if cur, err := ms.Current(t.Context(), "B1"); err != nil || cur != s.want {
				t.Fatalf("%s: Current = %+v, %v; want %+v (the cache follows Advance)", s.name, cur, err, s.want)
			}
		}
	})
	t.Run("ManifestWithoutVersionTimeOrdersByUpdatedAt", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		legacy := `{"book_id":"B1","version":"aaaaaaaaaaaa","content_type":"image/jpeg","updated_at":"2026-05-01T12:00:00Z"}`
		mustPutObject(t, s, cover.ManifestKey("B1"), []byte(legacy), "application/json")
		ms := NewManifests(s, time.Hour, 5*time.Second)
		if got, err := ms.Advance(t.Context(), coverAt("bbbbbbbbbbbb", at(-time.Second))); err != nil || got.Version != "aaaaaaaaaaaa" {
			t.Fatalf("Advance(older than updated_at) = %+v, %v; want the stored aaaaaaaaaaaa", got, err)
		}
		if got, err := ms.Advance(t.Context(), coverAt("bbbbbbbbbbbb", at(time.Second))); err != nil || got.Version != "bbbbbbbbbbbb" {
			t.Fatalf("Advance(newer than updated_at) = %+v, %v; want bbbbbbbbbbbb", got, err)
		}
	})
	t.Run("UnreadableManifestIsReplaced", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		mustPutObject(t, s, cover.ManifestKey("B1"), []byte("{not json"), "application/json")
		ms := NewManifests(s, time.Hour, 5*time.Second)
		if got, err := ms.Advance(t.Context(), coverAt("aaaaaaaaaaaa", at(0))); err != nil || got.Version != "aaaaaaaaaaaa" {
			t.Fatalf("Advance over an unreadable manifest = %+v, %v; want it replaced", got, err)
		}
	})
	t.Run("RacingReplicasEndOnNewest", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		replicas := []*Manifests{NewManifests(s, time.Hour, 5*time.Second), NewManifests(s, time.Hour, 5*time.Second)}
		const writers = 6
		for round := range racers {
			book := fmt.Sprintf("R%03d", round)
			times := rand.Perm(writers) // the order of the covers is not the order they start in
			var start, wg sync.WaitGroup
			start.Add(1)
			answers := make([]cover.Manifest, writers)
			errs := make([]error, writers)
			for i := range writers {
				wg.Go(func() {
					m := cover.Manifest{BookID: book, Version: fmt.Sprintf("%012d", i), VersionTime: at(time.Duration(times[i]) * time.Millisecond)}
					start.Wait()
					answers[i], errs[i] = replicas[i%2].Advance(t.Context(), m)
				})
			}
			start.Done()
			wg.Wait()
			newest := 0
			for i := range writers {
				if times[i] > times[newest] {
					newest = i
				}
			}
			want := fmt.Sprintf("%012d", newest)
			for i, err := range errs {
				mine := at(time.Duration(times[i]) * time.Millisecond)
				if err != nil || answers[i].Order().Before(mine) {
					t.Fatalf("round %d: writer %d (at %s) got %+v, %v; want no error and a cover at least as new", round, i, mine, answers[i], err)
				}
			}
			if m, err := replicas[0].Load(t.Context(), book); err != nil || m.Version != want {
				t.Fatalf("round %d: stored manifest %+v, %v; want the newest, version %s", round, m, err, want)
			}
			// The winner's replica never lets an older answer of its own
			// racers replace the newest in its cache.
			if m, err := replicas[newest%2].Current(t.Context(), book); err != nil || m.Version != want {
				t.Fatalf("round %d: Current on the winner's replica = %+v, %v; want %s", round, m, err, want)
			}
		}
	})
}

// heldStore holds the first Get after hold is armed until release is closed,
// after it has read the object: a lookup that read the old manifest and
// answers late.
type heldStore struct {
	Store
	hold    chan struct{} // closed: arm
	held    chan struct{} // closed when a Get is being held
	release chan struct{}
	once    sync.Once
}

func (s *heldStore) Get(ctx context.Context, key string) (Object, error) {
	obj, err := s.Store.Get(ctx, key)
	select {
	case <-s.hold:
		first := false
		s.once.Do(func() { first = true })
		if first {
			close(s.held)
			<-s.release
		}
	default:
	}
	return obj, err
}

// TestManifestsSlowLookupDoesNotUndoAdvance: a lookup that read the old
// manifest before this replica advanced it and answers after does not put
// the old cover back into the cache for a TTL.
func TestManifestsSlowLookupDoesNotUndoAdvance(t *testing.T) {
	t.Parallel()
	s := &heldStore{Store: newLocalTestStore(t, t.TempDir()), hold: make(chan struct{}), held: make(chan struct{}), release: make(chan struct{})}
	ms := NewManifests(s, time.Minute, 5*time.Second)
	clock := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	ms.now = func() time.Time { return clock }
	old := cover.Manifest{BookID: "B1", Version: "aaaaaaaaaaaa", VersionTime: clock}
	if err := ms.Put(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(2 * time.Minute) // past the TTL: the next Current reads the store
	close(s.hold)
	slow := make(chan cover.Manifest, 1)
	go func() {
		m, _ := ms.Current(context.Background(), "B1")
		slow <- m
	}()
	<-s.held
	newer := cover.Manifest{BookID: "B1", Version: "bbbbbbbbbbbb", VersionTime: clock}
	if got, err := ms.Advance(t.Context(), newer); err != nil || got != newer {
		t.Fatalf("Advance(newer) = %+v, %v; want it current", got, err)
	}
	close(s.release)
	if m := <-slow; m.Version != old.Version {
		t.Fatalf("the slow lookup answered %s; want the %s it read", m.Version, old.Version)
	}
	if m, err := ms.Current(t.Context(), "B1"); err != nil || m != newer {
		t.Errorf("Current after the slow lookup = %+v, %v; want %+v", m, err, newer)
	}
}

// TestAdvanceKeepsTheTrimBoxOfAVersion: a manifest naming the original the
// book is at already keeps the stored trim box (the version's variants
// never change, whatever TRIM_BORDERS says now); another original brings
// its own.
func TestAdvanceKeepsTheTrimBoxOfAVersion(t *testing.T) {
	t.Parallel()
	store := newLocalTestStore(t, t.TempDir())
	ms := NewManifests(store, time.Minute, time.Second)
	c, other := cover.ContentSum([]byte("scan")), cover.ContentSum([]byte("other"))
	box, box2 := cover.Rect{Left: 1, Top: 2, Width: 30, Height: 40}, cover.Rect{Left: 3, Top: 3, Width: 10, Height: 10}
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	at := func(i int, content string, trim cover.Rect) cover.Manifest {
		return cover.Manifest{BookID: "B1", Version: cover.VersionOf(content), Content: content, Trim: trim, VersionTime: t0.Add(time.Duration(i) * time.Minute)}
	}
	for i, step := range []struct {
		m    cover.Manifest
		want cover.Rect
	}{
		{at(0, c, box), box},
		{at(1, c, cover.Rect{}), box}, // the same bytes, trimming off now
		{at(2, c, box2), box},         // the same bytes, another threshold now
		{at(3, other, box2), box2},    // other bytes: their own box
		{at(4, other, cover.Rect{}), box2},
	} {
		got, err := ms.Advance(t.Context(), step.m)
		stored, lerr := ms.Load(t.Context(), "B1")
		if err != nil || lerr != nil || got.Trim != step.want || stored.Trim != step.want || !stored.VersionTime.Equal(step.m.VersionTime) {
			t.Errorf("step %d: Advance = %+v, %v; stored %+v, %v; want trim %s at %s", i, got, err, stored, lerr, step.want, step.m.VersionTime)
		}
	}
	// A manifest stored before content keys, of the same bytes: no box.
	old := cover.Manifest{BookID: "B2", Version: cover.VersionOf(c), VersionTime: t0}
	if err := ms.Put(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	m := at(1, c, box)
	m.BookID = "B2"
	if got, err := ms.Advance(t.Context(), m); err != nil || !got.Trim.IsZero() || got.Content != c {
		t.Errorf("over an old manifest of the same bytes: Advance = %+v, %v; want content recorded, no box", got, err)
	}
}
