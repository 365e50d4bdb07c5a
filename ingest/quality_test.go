package ingest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/internal/hostile"
	"github.com/bookcovers/image-worker/transform"
)

// referencePNG is the "no image available" picture the tests give as a
// reference, as a publisher would serve it.
func referencePNG() []byte { return hostile.EncodePNG(hostile.NoImagePicture(300, 450)) }

// writeReferences writes files (name -> bytes) into a new directory.
func writeReferences(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newRules builds rules from cfg with the references of dir (none when
// empty), hashed by r.
func newRules(t *testing.T, r Checker, cfg PlaceholderConfig, dir string) *PlaceholderRules {
	t.Helper()
	var refs []Reference
	if dir != "" {
		var err error
		if refs, err = LoadReferences(t.Context(), dir, r); err != nil {
			t.Fatalf("LoadReferences(%s): %v", dir, err)
		}
	}
	p, err := NewPlaceholderRules(cfg, refs)
	if err != nil {
		t.Fatalf("NewPlaceholderRules(%+v): %v", cfg, err)
	}
	return p
}

// TestPlaceholderRules: each rule, on originals built in code and checked
// by a real render worker, with the defaults and a reference directory;
// the real covers of testdata are all accepted.
func TestPlaceholderRules(t *testing.T) {
	_, _, _, r := newCheckingWarmer(t)
	rules := newRules(t, r, DefaultPlaceholderConfig(), writeReferences(t, map[string][]byte{"no-image.png": referencePNG()}))
	cases := []struct {
		name string
		src  []byte
		want PlaceholderReason // "" accepted
	}{
		{"Open Library's 1x1 GIF", hostile.TransparentGIF1x1(), ReasonTiny},
		{"a 24x400 strip over 1 KB", hostile.EncodePNG(hostile.Noise(24, 400)), ReasonTiny},
		{"a 600-byte 100x150 PNG", hostile.EncodePNG(hostile.Flat(100, 150, 90)), ReasonTiny},
		{"flat grey 300x450 JPEG", hostile.EncodeJPEG(hostile.Flat(300, 450, 128), 90), ReasonUniform},
		{"flat white 1200x1800 JPEG", hostile.EncodeJPEG(hostile.Flat(1200, 1800, 255), 75), ReasonUniform},
		{"the reference's own bytes", referencePNG(), ReasonKnown},
		{"the reference as JPEG q60 at 120x180", hostile.EncodeJPEG(hostile.NoImagePicture(120, 180), 60), ReasonKnown},
		{"the reference as JPEG q40 at 800x1200", hostile.EncodeJPEG(hostile.NoImagePicture(800, 1200), 40), ReasonKnown},
		{"photo-1600x2400-baseline.jpg", readTestdata(t, "photo-1600x2400-baseline.jpg"), ""},
		{"cover-320x480-palette-trns.png (palette with tRNS)", readTestdata(t, "cover-320x480-palette-trns.png"), ""},
		{"cover-50x75-tiny.jpg (the corpus' smallest)", readTestdata(t, "cover-50x75-tiny.jpg"), ""},
		{"panorama-4272x356.jpg", readTestdata(t, "panorama-4272x356.jpg"), ""},
		{"cover-800x1200-alpha.png", readTestdata(t, "cover-800x1200-alpha.png"), ""},
	}
	want := map[PlaceholderReason]uint64{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checked, err := r.Check(t.Context(), c.src)
			if err != nil {
				t.Fatalf("Check(%d bytes): %v", len(c.src), err)
			}
			err = rules.Classify(c.src, checked)
			got, _ := PlaceholderReasonOf(err)
			if got != c.want || (err == nil) != (c.want == "") {
				t.Fatalf("Classify(%d bytes, %dx%d) = %v; want reason %q", len(c.src), checked.Width, checked.Height, err, c.want)
			}
			if err != nil && (!errors.Is(err, ErrPlaceholder) || Code(err) != cover.CodePlaceholderImage || Retryable(err)) {
				t.Errorf("Classify error %v: Is(ErrPlaceholder) %v, Code %s, Retryable %v; want placeholder_image, final",
					err, errors.Is(err, ErrPlaceholder), Code(err), Retryable(err))
			}
		})
		if c.want != "" {
			want[c.want]++
		}
	}
	for _, reason := range PlaceholderReasons() {
		name := fmt.Sprintf(`covers_ingest_placeholders_refused_total{reason=%q}`, reason)
		if got := rules.Metrics().GetOrCreateCounter(name).Get(); got != want[reason] {
			t.Errorf("%s = %d; want %d", name, got, want[reason])
		}
	}
}

// TestPlaceholderRulesAspectAndOff: the aspect rule is off by default and,
// on, refuses outside its range; a rule whose threshold is 0 is off.
func TestPlaceholderRulesAspectAndOff(t *testing.T) {
	_, _, _, r := newCheckingWarmer(t)
	panorama, gif := readTestdata(t, "panorama-4272x356.jpg"), hostile.TransparentGIF1x1()
	flat := hostile.EncodeJPEG(hostile.Flat(300, 450, 128), 90)
	aspect := DefaultPlaceholderConfig()
	aspect.AspectMin, aspect.AspectMax = 0.5, 0.8
	off := PlaceholderConfig{}
	cases := []struct {
		name string
		cfg  PlaceholderConfig
		src  []byte
		want PlaceholderReason
	}{
		{"panorama, defaults", DefaultPlaceholderConfig(), panorama, ""},
		{"panorama, aspect 0.5-0.8", aspect, panorama, ReasonAspect},
		{"2:3 photo, aspect 0.5-0.8", aspect, readTestdata(t, "photo-1600x2400-baseline.jpg"), ""},
		{"1x1 GIF, every rule off", off, gif, ""},
		{"flat grey, every rule off", off, flat, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checked, err := r.Check(t.Context(), c.src)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			err = newRules(t, r, c.cfg, "").Classify(c.src, checked)
			if got, _ := PlaceholderReasonOf(err); got != c.want || (err == nil) != (c.want == "") {
				t.Errorf("Classify with %+v = %v; want reason %q", c.cfg, err, c.want)
			}
		})
	}
}

// TestPlaceholderRulesWithoutTraits: a check that did not decode (no
// Traits) is judged by its bytes and size only, and by the exact bytes of
// a reference.
func TestPlaceholderRulesWithoutTraits(t *testing.T) {
	ref := referencePNG()
	rules, err := NewPlaceholderRules(DefaultPlaceholderConfig(), []Reference{{Name: "r.png", SHA256: sha256.Sum256(ref)}})
	if err != nil {
		t.Fatal(err)
	}
	big := transform.Checked{Info: transform.Info{Width: 300, Height: 450}}
	if err := rules.Classify(make([]byte, 5000), big); err != nil {
		t.Errorf("Classify(5000 bytes, 300x450, no traits) = %v; want accepted", err)
	}
	if got, _ := PlaceholderReasonOf(rules.Classify(ref, big)); got != ReasonKnown {
		t.Errorf("Classify(the reference's bytes, no traits) = %q; want known", got)
	}
	small := transform.Checked{Info: transform.Info{Width: 20, Height: 30}}
	if got, _ := PlaceholderReasonOf(rules.Classify(make([]byte, 5000), small)); got != ReasonTiny {
		t.Errorf("Classify(20x30, no traits) = %q; want tiny", got)
	}
	rotated := transform.Checked{Info: transform.Info{Width: 400, Height: 20, Orientation: 6}}
	if got, _ := PlaceholderReasonOf(rules.Classify(make([]byte, 5000), rotated)); got != ReasonTiny {
		t.Errorf("Classify(400x20 turned upright, no traits) = %q; want tiny", got)
	}
}

// TestLoadReferences: pictures are hashed, dot files and directories are
// skipped, a file that is not a picture or a missing directory is an error
// naming it.
func TestLoadReferences(t *testing.T) {
	_, _, _, r := newCheckingWarmer(t)
	dir := writeReferences(t, map[string][]byte{"a.png": referencePNG(), ".hidden": []byte("not an image")})
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	refs, err := LoadReferences(t.Context(), dir, r)
	if err != nil || len(refs) != 1 || refs[0].Name != "a.png" || !refs[0].Hashed || refs[0].Deviation < 20 || refs[0].SHA256 != sha256.Sum256(referencePNG()) {
		t.Fatalf("LoadReferences = %+v, %v; want a.png hashed, with its picture's deviation", refs, err)
	}
	bad := writeReferences(t, map[string][]byte{"notes.txt": []byte("these are the placeholders of our sources")})
	if _, err := LoadReferences(t.Context(), bad, r); err == nil || !strings.Contains(err.Error(), "notes.txt") || !errors.Is(err, transform.ErrNotAnImage) {
		t.Errorf("LoadReferences(dir with a text file) = %v; want an error naming notes.txt (not an image)", err)
	}
	if _, err := LoadReferences(t.Context(), filepath.Join(dir, "missing"), r); err == nil || !strings.Contains(err.Error(), "PLACEHOLDER_REFERENCES_DIR") {
		t.Errorf("LoadReferences(missing dir) = %v; want an error naming PLACEHOLDER_REFERENCES_DIR", err)
	}
	empty, err := LoadReferences(t.Context(), t.TempDir(), r)
	if err != nil || len(empty) != 0 {
		t.Errorf("LoadReferences(empty dir) = %v, %v; want none, no error", empty, err)
	}
}

func TestPlaceholderConfigValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		mutate  func(*PlaceholderConfig)
		wantErr string // "" valid
	}{
		{"defaults", func(*PlaceholderConfig) {}, ""},
		{"every rule off", func(c *PlaceholderConfig) { *c = PlaceholderConfig{} }, ""},
		{"negative side", func(c *PlaceholderConfig) { c.MinSide = -1 }, "PLACEHOLDER_MIN_SIDE"},
		{"negative bytes", func(c *PlaceholderConfig) { c.MinBytes = -1 }, "PLACEHOLDER_MIN_BYTES"},
		{"deviation over 128", func(c *PlaceholderConfig) { c.MinDeviation = 129 }, "PLACEHOLDER_MIN_DEVIATION"},
		{"distance over 32", func(c *PlaceholderConfig) { c.HashDistance = 33 }, "PLACEHOLDER_HASH_DISTANCE"},
		{"aspect reversed", func(c *PlaceholderConfig) { c.AspectMin, c.AspectMax = 1, 0.5 }, "PLACEHOLDER_ASPECT_RANGE"},
	}
	for _, c := range cases {
		cfg := DefaultPlaceholderConfig()
		c.mutate(&cfg)
		err := cfg.Validate()
		if (err == nil) != (c.wantErr == "") || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%s: Validate() = %v; want an error naming %q", c.name, err, c.wantErr)
		}
	}
}

func TestParseAspectRange(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in     string
		lo, hi float64
		ok     bool
	}{
		{"", 0, 0, true},
		{"0.4-1.0", 0.4, 1, true},
		{" 0.5 - 0.8 ", 0.5, 0.8, true},
		{"1.0-0.4", 0, 0, false},
		{"0-1", 0, 0, false},
		{"0.5", 0, 0, false},
		{"a-b", 0, 0, false},
		{"-0.5-1", 0, 0, false},
	}
	for _, c := range cases {
		lo, hi, err := ParseAspectRange(c.in)
		if (err == nil) != c.ok || lo != c.lo || hi != c.hi {
			t.Errorf("ParseAspectRange(%q) = %v, %v, %v; want %v, %v, ok %v", c.in, lo, hi, err, c.lo, c.hi, c.ok)
		}
	}
}

// TestWarmerRefusesPlaceholders: a placeholder stores nothing and leaves
// the manifest alone, so a book keeps its good cover (and no cover_status
// is due); for a book without a cover the refusal says placeholder. A good
// cover's manifest carries the check's dominant colour and blurhash.
func TestWarmerRefusesPlaceholders(t *testing.T) {
	w, manifests, store, r := newCheckingWarmer(t)
	w.RefusePlaceholders(newRules(t, r, DefaultPlaceholderConfig(), ""))
	ctx := context.Background()
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	photo := readTestdata(t, "photo-1600x2400-baseline.jpg")
	good, err := w.Store(ctx, "GOOD", "https://covers.example/good.jpg", photo, at)
	if err != nil {
		t.Fatalf("store the good cover: %v", err)
	}
	meta, err := r.Meta(ctx, photo)
	if err != nil {
		t.Fatal(err)
	}
	if good.DominantColor != meta.DominantColor || good.BlurHash != meta.BlurHash || good.Width != 1600 || good.Height != 2400 {
		t.Errorf("manifest of the good cover = %+v; want %dx%d, dominant colour %s, blurhash %s", good, 1600, 2400, meta.DominantColor, meta.BlurHash)
	}
	flat := hostile.EncodeJPEG(hostile.Flat(300, 450, 128), 90)
	for _, book := range []string{"GOOD", "NEW"} {
		_, err := w.Store(ctx, book, "https://covers.example/none.jpg", flat, at.Add(time.Hour))
		reason, ok := PlaceholderReasonOf(err)
		if !ok || reason != ReasonUniform || Code(err) != cover.CodePlaceholderImage {
			t.Fatalf("Store(%s, flat grey) = %v; want a uniform placeholder_image", book, err)
		}
		if _, err := store.Get(ctx, cover.OriginalKey(book, Version(flat))); !errors.Is(err, cache.ErrNotFound) {
			t.Errorf("%s: the placeholder's original is in the store (%v); want nothing stored", book, err)
		}
		wantStatus := CoverStatus("")
		if book == "NEW" {
			wantStatus = CoverPlaceholder
		}
		if got := StatusOf(err); got != wantStatus {
			t.Errorf("StatusOf(refusal of %s) = %q; want %q", book, got, wantStatus)
		}
	}
	if m, err := manifests.Load(ctx, "GOOD"); err != nil || m.Version != good.Version {
		t.Errorf("GOOD's manifest after the placeholder = %+v, %v; want the good version %s", m, err, good.Version)
	}
	if _, err := manifests.Load(ctx, "NEW"); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("NEW's manifest after the placeholder: %v; want none", err)
	}
}

// statusSource answers every fetch as a source answering status would.
type statusSource struct{ status int }

func (s *statusSource) Fetch(context.Context, string) (Fetched, error) {
	return Fetched{}, checkStatus(&http.Response{StatusCode: s.status})
}

// TestWarmMissingSource: a 404 or 410 from the source of a book without a
// cover says missing; the same for a book with a cover, or another 4xx,
// says nothing.
func TestWarmMissingSource(t *testing.T) {
	store, err := cache.NewLocalStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	manifests := cache.NewManifests(store, time.Minute, 5*time.Second)
	src := &statusSource{}
	w := NewWarmer(src, store, manifests, acceptAll{}, slog.New(slog.DiscardHandler))
	ctx := t.Context()
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	if _, err := w.Store(ctx, "HAS", "https://img.example/has.jpg", []byte("a cover"), at); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		book   string
		status int
		want   CoverStatus
	}{{"HAS", 404, ""}, {"NONE", 404, CoverMissing}, {"NONE", 410, CoverMissing}, {"NONE", 403, ""}} {
		src.status = c.status
		_, err := w.Warm(ctx, c.book, fmt.Sprintf("https://img.example/%s-%d.jpg", c.book, c.status), false, at.Add(time.Hour))
		if !errors.Is(err, ErrSourceRejected) || Code(err) != cover.CodeSourceRejected || StatusOf(err) != c.want {
			t.Errorf("Warm(%s, source answers %d) = %v, status %q; want source_rejected, status %q", c.book, c.status, err, StatusOf(err), c.want)
		}
		r, ok := RefusalOf(err, c.book, "u", at)
		if ok != (c.want != "") || r.Status != c.want || (ok && r.Code != cover.CodeSourceRejected) {
			t.Errorf("RefusalOf(%s, %d) = %+v, %v; want a refusal only with status %q", c.book, c.status, r, ok, c.want)
		}
	}
}

// TestJobRecordsPlaceholderReasonAndStatus: a job whose original is a
// placeholder fails at once (one attempt) with placeholder_image, its
// reason and, for a book without a cover, the cover_status its
// notification writes; the job record keeps both.
func TestJobRecordsPlaceholderReasonAndStatus(t *testing.T) {
	refused := uncovered(fmt.Errorf("store original: %w", &PlaceholderError{Reason: ReasonKnown, Detail: "reference r.png"}))
	kept := fmt.Errorf("store original: %w", &PlaceholderError{Reason: ReasonTiny, Detail: "1x1"})
	n := &statusNotifier{}
	w := &fakeWarm{errs: []error{refused, kept}}
	j, err := NewJobs(DefaultJobsConfig(), newTestStore(t), w, func(string) error { return nil }, n, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer j.Stop(context.Background())
	for _, c := range []struct {
		book   string
		reason string
		status CoverStatus
	}{{"NEW", "known", CoverPlaceholder}, {"HAS", "tiny", ""}} {
		sub, err := j.Submit(t.Context(), c.book, "https://a.example/"+c.book+".jpg", false)
		if err != nil {
			t.Fatal(err)
		}
		got := waitJob(t, j, sub.ID)
		if got.State != JobFailed || got.Attempts != 1 || got.Error == nil ||
			got.Error.Code != "placeholder_image" || got.Error.Reason != c.reason || got.Error.Message != cover.CodePlaceholderImage.Message() {
			t.Errorf("job of %s = %+v (error %+v); want failed after 1 attempt with placeholder_image, reason %s", c.book, got, got.Error, c.reason)
		}
		if got.CoverStatus != c.status {
			t.Errorf("job of %s: cover_status %q; want %q", c.book, got.CoverStatus, c.status)
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.failed) != 2 || n.failed[0].CoverStatus != CoverPlaceholder || n.failed[0].Error.Reason != "known" || n.failed[1].CoverStatus != "" {
		t.Errorf("notified failures = %+v; want NEW with placeholder, HAS without a status", n.failed)
	}
}

// statusNotifier keeps the failed jobs it is told about.
type statusNotifier struct {
	mu     sync.Mutex
	failed []Job
}

func (n *statusNotifier) JobSucceeded(context.Context, Job, cover.Manifest) error { return nil }

func (n *statusNotifier) JobFailed(_ context.Context, job Job) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.failed = append(n.failed, job)
	return nil
}
