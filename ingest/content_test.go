package ingest

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/transform"
)

// countingCheck passes every original as a small JPEG, counting its checks
// (decodes) and header checks by content; a non-nil gate holds each check
// until it is closed. header, when set, is what its header check answers
// instead of the check's own Info.
type countingCheck struct {
	mu      sync.Mutex
	checks  map[string]int
	headers map[string]int
	gate    chan struct{}
	header  *transform.Info
}

func newCountingCheck() *countingCheck {
	return &countingCheck{checks: map[string]int{}, headers: map[string]int{}}
}

var checkedInfo = transform.Info{Type: transform.TypeJPEG, ContentType: "image/jpeg", Width: 10, Height: 15, Frames: 1, Orientation: 1, BytesPerPixel: 3}

// checkedTraits are what every check of countingCheck learns of the pixels.
var checkedTraits = transform.Traits{Deviation: 41, DHash: 0x0123456789abcdef, DominantColor: "#336699", BlurHash: "LEHV6nWB2yk8pyo0adR*.7kCMdnj"}

func (c *countingCheck) Check(_ context.Context, original []byte) (transform.Checked, error) {
	c.mu.Lock()
	c.checks[cover.ContentSum(original)]++
	gate := c.gate
	c.mu.Unlock()
	if gate != nil {
		<-gate
	}
	traits := checkedTraits
	return transform.Checked{Info: checkedInfo, Traits: &traits}, nil
}

func (c *countingCheck) CheckHeader(original []byte) (transform.Info, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.headers[cover.ContentSum(original)]++
	if c.header != nil {
		return *c.header, nil
	}
	return checkedInfo, nil
}

func (c *countingCheck) count(original []byte) (checks, headers int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checks[cover.ContentSum(original)], c.headers[cover.ContentSum(original)]
}

// putCounter counts the writes and Stats of a store by key.
type putCounter struct {
	cache.Store
	mu    sync.Mutex
	puts  map[string]int
	stats map[string]int
}

func newPutCounter(s cache.Store) *putCounter {
	return &putCounter{Store: s, puts: map[string]int{}, stats: map[string]int{}}
}

func (p *putCounter) Put(ctx context.Context, key string, data []byte, ct string) error {
	p.mu.Lock()
	p.puts[key]++
	p.mu.Unlock()
	return p.Store.Put(ctx, key, data, ct)
}

func (p *putCounter) Stat(ctx context.Context, key string) (cache.Object, error) {
	p.mu.Lock()
	p.stats[key]++
	p.mu.Unlock()
	return p.Store.Stat(ctx, key)
}

func (p *putCounter) count(key string) (puts, stats int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.puts[key], p.stats[key]
}

// newContentWarmer is a Warmer over store that reuses checks with check.
func newContentWarmer(store cache.Store, check *countingCheck) (*Warmer, *cache.Manifests) {
	manifests := cache.NewManifests(store, time.Minute, 5*time.Second)
	w := NewWarmer(nil, store, manifests, check, slog.New(slog.DiscardHandler))
	w.Reuse(check)
	return w, manifests
}

func listKeys(t *testing.T, s cache.Store, prefix string) []string {
	t.Helper()
	keys, err := s.List(t.Context(), prefix)
	if err != nil {
		t.Fatalf("List(%s): %v", prefix, err)
	}
	return keys
}

// TestStoreOnceByContent: books whose originals are the same bytes share
// one stored original and one check (the later ones reuse it after a
// header check, in this process or in another one); each book gets its
// references and its manifest names the content; other bytes are stored
// apart; nothing is stored under the book.
func TestStoreOnceByContent(t *testing.T) {
	t.Parallel()
	store := newPutCounter(newLocalTestStore(t))
	check := newCountingCheck()
	w, manifests := newContentWarmer(store, check)
	ctx := t.Context()
	shared, other := []byte("shared cover"), []byte("other cover")
	sc, oc := cover.ContentSum(shared), cover.ContentSum(other)
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for i, book := range []string{"B1", "B2", "B3"} {
		m, err := w.Store(ctx, book, "https://img.example/"+book+".jpg", shared, at)
		if err != nil || m.Content != sc || m.Version != cover.VersionOf(sc) || m.Version != Version(shared) {
			t.Fatalf("Store(%s) = %+v, %v; want content %s", book, m, err, sc)
		}
		if m.DominantColor != checkedTraits.DominantColor || m.BlurHash != checkedTraits.BlurHash {
			t.Errorf("Store(%s): previews %q %q; want the check's traits (a reused check keeps them)", book, m.DominantColor, m.BlurHash)
		}
		if checks, headers := check.count(shared); checks != 1 || headers != i {
			t.Errorf("after %s: %d checks and %d header checks of the shared bytes, want 1 and %d", book, checks, headers, i)
		}
	}
	if _, err := w.Store(ctx, "B4", "https://img.example/B4.jpg", other, at); err != nil {
		t.Fatal(err)
	}
	if puts, stats := store.count(cover.ContentOriginalKey(sc)); puts != 1 || stats != 3 {
		t.Errorf("shared original: %d puts and %d stats, want 1 put (one upload) and a stat per book", puts, stats)
	}
	if puts, _ := store.count(cover.ContentInfoKey(sc)); puts != 1 {
		t.Errorf("shared check stored %d times, want once", puts)
	}
	want := []string{cover.ContentInfoKey(oc), cover.ContentOriginalKey(oc), cover.ContentInfoKey(sc), cover.ContentOriginalKey(sc)}
	if oc > sc {
		want = append(want[2:], want[:2]...)
	}
	if got := listKeys(t, store, cover.ContentsPrefix()); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("content/ = %v, want %v", got, want)
	}
	for book, c := range map[string]string{"B1": sc, "B2": sc, "B3": sc, "B4": oc} {
		if got := listKeys(t, store, cover.BookRefsPrefix(book)); len(got) != 1 || got[0] != cover.RefKey(book, c) {
			t.Errorf("references of %s = %v, want %s", book, got, cover.RefKey(book, c))
		}
		if m, err := manifests.Load(ctx, book); err != nil || m.Content != c || m.OriginalKey() != cover.ContentOriginalKey(c) {
			t.Errorf("manifest of %s = %+v, %v; want content %s", book, m, err, c)
		}
	}
	if got := listKeys(t, store, cover.ContentUsersPrefix(sc)); strings.Join(got, " ") != "users/"+sc+"/B1 users/"+sc+"/B2 users/"+sc+"/B3" {
		t.Errorf("users of the shared content = %v, want B1, B2 and B3", got)
	}
	if got := listKeys(t, store, cover.OriginalsPrefix()); len(got) != 0 {
		t.Errorf("originals/ = %v, want nothing stored under a book", got)
	}

	// Another process (nothing in memory) reuses the stored check.
	w2, _ := newContentWarmer(store, check)
	if _, err := w2.Store(ctx, "B5", "import:b5.jpg", shared, at); err != nil {
		t.Fatal(err)
	}
	if checks, headers := check.count(shared); checks != 1 || headers != 3 {
		t.Errorf("another process: %d checks, %d header checks of the shared bytes, want still 1 check and one more header check (3)", checks, headers)
	}
	if puts, _ := store.count(cover.ContentOriginalKey(sc)); puts != 1 {
		t.Errorf("another process uploaded the shared original again (%d puts)", puts)
	}

	// A replica whose header check disagrees (other limits) checks again.
	differs := checkedInfo
	differs.BytesPerPixel = 6
	strict := newCountingCheck()
	strict.header = &differs
	w3, _ := newContentWarmer(store, strict)
	if _, err := w3.Store(ctx, "B6", "import:b6.jpg", shared, at); err != nil {
		t.Fatal(err)
	}
	if checks, _ := strict.count(shared); checks != 1 {
		t.Errorf("a header check that disagrees with the stored one: %d checks, want the check to run (1)", checks)
	}
}

// TestStoreSharedConcurrently: books stored at once with the same bytes
// share one check and one upload.
func TestStoreSharedConcurrently(t *testing.T) {
	t.Parallel()
	store := newPutCounter(newLocalTestStore(t))
	check := newCountingCheck()
	check.gate = make(chan struct{})
	w, _ := newContentWarmer(store, check)
	original := []byte("one cover for many books")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			_, err := w.Store(t.Context(), "C"+string(rune('0'+i)), "", original, time.Now())
			errs <- err
		})
	}
	time.Sleep(50 * time.Millisecond) // let every Store reach the check
	close(check.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if checks, _ := check.count(original); checks != 1 {
		t.Errorf("8 books at once: %d checks, want 1", checks)
	}
	if puts, _ := store.count(cover.ContentOriginalKey(cover.ContentSum(original))); puts != 1 {
		t.Errorf("8 books at once: %d uploads, want 1", puts)
	}
	if got := listKeys(t, store, cover.ContentUsersPrefix(cover.ContentSum(original))); len(got) != 8 {
		t.Errorf("users = %v, want all 8 books", got)
	}
}

// fakeTrimmer finds box in every original, counting its searches.
type fakeTrimmer struct {
	mu    sync.Mutex
	box   cover.Rect
	calls int
	at    []float64 // thresholds
}

func (f *fakeTrimmer) TrimBox(_ context.Context, _ []byte, threshold float64) (cover.Rect, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.at = append(f.at, threshold)
	return f.box, nil
}

// TestTrimAtIngest: with TRIM_BORDERS on, the box is found once per content
// (kept with its check, for other books and other processes) and recorded
// in each manifest; a book whose manifest already names the same bytes
// keeps the box it has, whatever the setting is now.
func TestTrimAtIngest(t *testing.T) {
	t.Parallel()
	store := newLocalTestStore(t)
	check := newCountingCheck()
	box := cover.Rect{Left: 1, Top: 2, Width: 8, Height: 12}
	trimmer := &fakeTrimmer{box: box}
	on := TrimConfig{Enabled: true, Threshold: 12}
	w, _ := newContentWarmer(store, check)
	w.TrimBorders(trimmer, on)
	ctx := t.Context()
	scan, plain := []byte("a scan with a border"), []byte("a cover stored before trimming")
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

	off, _ := newContentWarmer(store, check)
	off.TrimBorders(trimmer, TrimConfig{Threshold: 12})
	if m, err := off.Store(ctx, "OLD", "", plain, t0); err != nil || !m.Trim.IsZero() {
		t.Fatalf("TRIM_BORDERS off: Store = %+v, %v; want no box", m, err)
	}
	for _, book := range []string{"T1", "T2"} {
		m, err := w.Store(ctx, book, "", scan, t0)
		if err != nil || m.Trim != box {
			t.Fatalf("Store(%s) = %+v, %v; want the box %s", book, m, err, box)
		}
	}
	if trimmer.calls != 1 || trimmer.at[0] != 12 {
		t.Errorf("border searches = %d at %v, want 1 at threshold 12", trimmer.calls, trimmer.at)
	}
	w2, _ := newContentWarmer(store, check)
	w2.TrimBorders(trimmer, on)
	if m, err := w2.Store(ctx, "T3", "", scan, t0); err != nil || m.Trim != box || trimmer.calls != 1 {
		t.Errorf("another process: Store = %+v, %v after %d searches; want the stored box, no new search", m, err, trimmer.calls)
	}

	// The setting changes; stored versions keep their variants. (The box of
	// those bytes is searched for, once, for the books to come.)
	if m, err := w.Store(ctx, "OLD", "", plain, t0.Add(time.Hour)); err != nil || !m.Trim.IsZero() {
		t.Errorf("TRIM_BORDERS on, a book already at those bytes untrimmed: Store = %+v, %v; want no box", m, err)
	}
	if stored, err := w.manifests.Load(ctx, "OLD"); err != nil || !stored.Trim.IsZero() || !stored.VersionTime.Equal(t0.Add(time.Hour)) {
		t.Errorf("stored manifest of OLD = %+v, %v; want the new time without a box", stored, err)
	}
	if m, err := off.Store(ctx, "T1", "", scan, t0.Add(time.Hour)); err != nil || m.Trim != box {
		t.Errorf("TRIM_BORDERS off, a book already at those bytes trimmed: Store = %+v, %v; want its box kept", m, err)
	}
	// Another book of those bytes with the setting off: no box.
	if m, err := off.Store(ctx, "T4", "", scan, t0); err != nil || !m.Trim.IsZero() {
		t.Errorf("TRIM_BORDERS off, a new book: Store = %+v, %v; want no box", m, err)
	}
	// Another threshold searches again.
	w3, _ := newContentWarmer(store, check)
	w3.TrimBorders(trimmer, TrimConfig{Enabled: true, Threshold: 30})
	before := trimmer.calls
	if _, err := w3.Store(ctx, "T5", "", scan, t0); err != nil || trimmer.calls != before+1 || trimmer.at[before] != 30 {
		t.Errorf("threshold 30: %v after %d searches at %v; want one more search, at 30", err, trimmer.calls, trimmer.at)
	}
}

func TestTrimConfigValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		threshold float64
		ok        bool
	}{{10, true}, {0.5, true}, {255, true}, {0, false}, {-1, false}, {256, false}} {
		cfg := DefaultTrimConfig()
		cfg.Threshold = c.threshold
		if err := cfg.Validate(); (err == nil) != c.ok {
			t.Errorf("TrimConfig{Threshold: %g}.Validate() = %v, want ok=%v", c.threshold, err, c.ok)
		}
	}
	if DefaultTrimConfig().Enabled || DefaultTrimConfig().Threshold != transform.DefaultTrimThreshold {
		t.Errorf("DefaultTrimConfig = %+v, want off at %d", DefaultTrimConfig(), transform.DefaultTrimThreshold)
	}
}

// TestStoreRefusedLeavesNothing: a refused check stores nothing, not even
// a reference.
func TestStoreRefusedLeavesNothing(t *testing.T) {
	t.Parallel()
	store := newLocalTestStore(t)
	w := NewWarmer(nil, store, cache.NewManifests(store, time.Minute, time.Second), refuseAll{}, slog.New(slog.DiscardHandler))
	if _, err := w.Store(t.Context(), "B1", "", []byte("junk"), time.Now()); !errors.Is(err, transform.ErrNotAnImage) {
		t.Fatalf("Store = %v, want ErrNotAnImage", err)
	}
	if got := listKeys(t, store, ""); len(got) != 0 {
		t.Errorf("after a refused original the store holds %v, want nothing", got)
	}
}

type refuseAll struct{}

func (refuseAll) Check(context.Context, []byte) (transform.Checked, error) {
	return transform.Checked{}, transform.ErrNotAnImage
}
