package cache

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
)

// metaStore wraps a store: it counts reads of originals and can fail writes.
type metaStore struct {
	*prefixReads // of originals
	failPuts     atomic.Bool
}

func (s *metaStore) Put(ctx context.Context, key string, data []byte, ct string) error {
	if s.failPuts.Load() {
		return ErrUnavailable
	}
	return s.Store.Put(ctx, key, data, ct)
}

// fakePreview counts computations; a non-nil gate holds each one until closed.
type fakePreview struct {
	calls atomic.Int64
	gate  chan struct{}
	err   error
	trim  atomic.Pointer[cover.Rect] // the trim box of the last computation
}

func (f *fakePreview) compute(ctx context.Context, original []byte, trim cover.Rect) (Preview, error) {
	f.calls.Add(1)
	f.trim.Store(&trim)
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return Preview{}, ctx.Err()
		}
	}
	if f.err != nil {
		return Preview{}, f.err
	}
	return Preview{DominantColor: "#" + strings.Repeat(string(original[:1]), 6), BlurHash: "T" + string(original), LQIP: "data:image/webp;base64,AA"}, nil
}

var metaManifest = cover.Manifest{BookID: "B1", Version: "3f9a1c2b7d4e", SourceURL: "https://a.example/b1.jpg", ContentType: "image/jpeg", Width: 1600, Height: 2400, Bytes: 1234}

func newMetaFixture(t *testing.T) (*metaStore, Store) {
	t.Helper()
	local, err := NewLocalStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := &metaStore{prefixReads: &prefixReads{Store: local, prefix: cover.OriginalsPrefix()}}
	if err := local.Put(t.Context(), cover.OriginalKey("B1", metaManifest.Version), []byte("abc"), "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	return s, local
}

func newTestMetas(t *testing.T, s Store, f *fakePreview) *Metas {
	t.Helper()
	ms, err := NewMetas(DefaultMetasConfig(), s, f.compute, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestMetasComputeOnceThenServeFromMemoryAndStore(t *testing.T) {
	t.Parallel()
	s, _ := newMetaFixture(t)
	f := &fakePreview{gate: make(chan struct{})}
	ms := newTestMetas(t, s, f)
	var wg sync.WaitGroup
	results := make([]CoverMeta, 8)
	errs := make([]error, 8)
	for i := range results {
		wg.Add(1)
		go func() { defer wg.Done(); results[i], errs[i] = ms.Get(t.Context(), metaManifest) }()
	}
	for f.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the other callers join the fill
	close(f.gate)
	wg.Wait()
	// source_url_sha256 is what sha256sum prints for the URL.
	want := CoverMeta{BookID: "B1", Version: "3f9a1c2b7d4e", SourceURL: "https://a.example/b1.jpg",
		SourceURLSHA256: "921c15fb2fba9def66ba19a3cfa6ed31c144cd873f406e38aeee2084a7c0f747",
		Width:           1600, Height: 2400, Format: "jpeg", Bytes: 1234,
		Preview: Preview{DominantColor: "#aaaaaa", BlurHash: "Tabc", LQIP: "data:image/webp;base64,AA"}}
	for i := range results {
		if errs[i] != nil || results[i] != want {
			t.Errorf("caller %d: Get = %+v, %v; want %+v", i, results[i], errs[i], want)
		}
	}
	if n := f.calls.Load(); n != 1 || ms.Computed() != 1 {
		t.Fatalf("8 concurrent Gets computed %d times (Computed %d), want 1", n, ms.Computed())
	}
	if _, err := ms.Get(t.Context(), metaManifest); err != nil || f.calls.Load() != 1 {
		t.Errorf("second Get: %v, computations %d; want a memory hit", err, f.calls.Load())
	}
	stored, err := LoadMeta(t.Context(), s, "B1", metaManifest.Version)
	if err != nil || stored != want {
		t.Errorf("stored meta = %+v, %v; want %+v", stored, err, want)
	}

	// A new process on the same store: no computation, no original read.
	reads := s.reads.Load()
	f2 := &fakePreview{}
	ms2 := newTestMetas(t, s, f2)
	moved := metaManifest
	moved.SourceURL = "https://b.example/same-bytes.jpg"
	got, err := ms2.Get(t.Context(), moved)
	if err != nil || got.Preview != want.Preview || got.SourceURL != moved.SourceURL {
		t.Errorf("Get after restart = %+v, %v; want the stored preview with the manifest's source URL", got, err)
	}
	if f2.calls.Load() != 0 || s.reads.Load() != reads {
		t.Errorf("after restart: %d computations, %d original reads; want 0, 0", f2.calls.Load(), s.reads.Load()-reads)
	}
}

func TestMetasImpatientCallerDoesNotFailOthers(t *testing.T) {
	t.Parallel()
	s, _ := newMetaFixture(t)
	f := &fakePreview{gate: make(chan struct{})}
	ms := newTestMetas(t, s, f)
	impatient, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := ms.Get(impatient, metaManifest); done <- err }()
	for f.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	patient := make(chan error, 1)
	go func() { _, err := ms.Get(t.Context(), metaManifest); patient <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller = %v, want context.Canceled", err)
	}
	close(f.gate)
	if err := <-patient; err != nil {
		t.Errorf("patient caller = %v, want the shared result", err)
	}
	if f.calls.Load() != 1 {
		t.Errorf("computations = %d, want 1", f.calls.Load())
	}
}

func TestMetasFailures(t *testing.T) {
	t.Parallel()
	errBoom := errors.New("boom")
	cases := []struct {
		name    string
		setup   func(t *testing.T, s *metaStore, local Store)
		m       cover.Manifest
		compute error
		want    error
		wantOK  bool
	}{
		{name: "compute fails", m: metaManifest, compute: errBoom, want: errBoom},
		{name: "original missing", m: func() cover.Manifest { m := metaManifest; m.Version = "000000000000"; return m }(), want: ErrNotFound},
		{name: "bad book id", m: cover.Manifest{BookID: "../x", Version: "v"}, want: cover.ErrInvalidBookID},
		{name: "version with a slash", m: cover.Manifest{BookID: "B1", Version: "a/../b"}, want: ErrInvalidKey},
		{name: "empty version", m: cover.Manifest{BookID: "B1"}, want: ErrInvalidKey},
		{name: "store write fails: still answered", m: metaManifest, wantOK: true,
			setup: func(t *testing.T, s *metaStore, _ Store) { s.failPuts.Store(true) }},
		{name: "corrupt stored record is computed again", m: metaManifest, wantOK: true,
			setup: func(t *testing.T, _ *metaStore, local Store) {
				_ = local.Put(t.Context(), cover.MetaKey("B1", metaManifest.Version), []byte(`{"version":`), "application/json")
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, local := newMetaFixture(t)
			if c.setup != nil {
				c.setup(t, s, local)
			}
			f := &fakePreview{err: c.compute}
			ms := newTestMetas(t, s, f)
			got, err := ms.Get(t.Context(), c.m)
			if c.wantOK {
				if err != nil || got.BlurHash != "Tabc" || f.calls.Load() != 1 {
					t.Fatalf("Get = %+v, %v after %d computations; want the computed preview", got, err, f.calls.Load())
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("Get(%+v) = %v, want %v", c.m, err, c.want)
			}
			if _, err := ms.Get(t.Context(), c.m); err == nil {
				t.Errorf("a failure was cached as a success")
			}
		})
	}
}

func TestMetasConfigValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		cfg   MetasConfig
		wantN int // problems named
	}{
		{"defaults", DefaultMetasConfig(), 0},
		{"zero timeout", MetasConfig{StoreTimeout: time.Second, MaxEntries: 1}, 1},
		{"zero store timeout", MetasConfig{FillTimeout: time.Second, MaxEntries: 1}, 1},
		{"everything wrong", MetasConfig{FillTimeout: -1, MaxEntries: 0}, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			n := 0
			if err != nil {
				n = len(strings.Split(err.Error(), "\n"))
			}
			if n != c.wantN {
				t.Errorf("Validate(%+v) = %v; want %d problems", c.cfg, err, c.wantN)
			}
		})
	}
}

func TestPurgeRemovesMeta(t *testing.T) {
	t.Parallel()
	store, err := NewLocalStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ms := NewManifests(store, time.Hour, time.Second)
	ctx := t.Context()
	for _, book := range []string{"B1", "B10"} {
		if err := ms.Put(ctx, cover.Manifest{BookID: book, Version: "v1"}); err != nil {
			t.Fatal(err)
		}
		if err := StoreMeta(ctx, store, CoverMeta{BookID: book, Version: "v1"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := cover.MetaKey("B1", "v1"); got != "meta/B1/v1.json" {
		t.Fatalf("MetaKey = %q, want meta/B1/v1.json", got)
	}
	if _, err := Purge(ctx, store, ms, "B1"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(ctx, cover.MetaKey("B1", "v1")); !errors.Is(err, ErrNotFound) {
		t.Errorf("meta of the purged book: %v, want not found", err)
	}
	if _, err := store.Get(ctx, cover.MetaKey("B10", "v1")); err != nil {
		t.Errorf("meta of another book was removed: %v", err)
	}
}

// TestMetasOfAContentManifest: a manifest stored by content reads its
// original by content, computes the previews of its trim box, and reports
// the box's size with the box; an old manifest reports the original's size.
func TestMetasOfAContentManifest(t *testing.T) {
	t.Parallel()
	local := newLocalTestStore(t, t.TempDir())
	content := cover.ContentSum([]byte("xyz"))
	if err := local.Put(t.Context(), cover.ContentOriginalKey(content), []byte("xyz"), "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	f := &fakePreview{}
	ms := newTestMetas(t, local, f)
	m := metaManifest
	m.Version, m.Content, m.Trim = cover.VersionOf(content), content, cover.Rect{Left: 100, Top: 150, Width: 1400, Height: 2100}
	cm, err := ms.Get(t.Context(), m)
	if err != nil {
		t.Fatalf("Get(%+v): %v", m, err)
	}
	if cm.BlurHash != "Txyz" || *f.trim.Load() != m.Trim {
		t.Errorf("preview %q computed with trim %v; want it from the content's original, of the box %v", cm.BlurHash, *f.trim.Load(), m.Trim)
	}
	if cm.Width != 1400 || cm.Height != 2100 || cm.Trim == nil || *cm.Trim != m.Trim {
		t.Errorf("meta = %dx%d trim %v; want the box's 1400x2100 and the box", cm.Width, cm.Height, cm.Trim)
	}
	if old := NewCoverMeta(metaManifest, Preview{}); old.Width != 1600 || old.Height != 2400 || old.Trim != nil {
		t.Errorf("meta of an old manifest = %dx%d trim %v; want the original's 1600x2400 and no box", old.Width, old.Height, old.Trim)
	}
}
