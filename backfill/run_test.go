package backfill

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
)

// fakeRows is a RowWarmer that records its calls. A URL under /skip/ is
// Skipped, /fail/ fails as the fetcher's source_rejected, /denied/ with a
// code of its own (as the service's answers do); anything else is Warmed.
type fakeRows struct {
	delay  time.Duration
	onCall func(n int) // called with the running number of calls

	mu                sync.Mutex
	calls             int
	inflight, most    int
	busy              map[string]bool
	urls              map[string][]string // book -> URLs in call order
	overlapped        []string            // books warmed by two rows at once
	cancelledInFlight int                 // rows whose context had ended when they returned
}

func newFakeRows() *fakeRows {
	return &fakeRows{busy: map[string]bool{}, urls: map[string][]string{}}
}

func (f *fakeRows) WarmRow(ctx context.Context, bookID, imageURL string) (Outcome, error) {
	f.mu.Lock()
	f.calls++
	n := f.calls
	if f.busy[bookID] {
		f.overlapped = append(f.overlapped, bookID)
	}
	f.busy[bookID] = true
	f.inflight++
	f.most = max(f.most, f.inflight)
	f.urls[bookID] = append(f.urls[bookID], imageURL)
	f.mu.Unlock()
	if f.onCall != nil {
		f.onCall(n)
	}
	time.Sleep(f.delay)
	f.mu.Lock()
	f.busy[bookID] = false
	f.inflight--
	if ctx.Err() != nil {
		f.cancelledInFlight++
	}
	f.mu.Unlock()
	switch {
	case strings.Contains(imageURL, "/skip/"):
		return Skipped, nil
	case strings.Contains(imageURL, "/fail/"):
		return 0, fmt.Errorf("fetch %s: %w", imageURL, ingest.ErrSourceRejected)
	case strings.Contains(imageURL, "/denied/"):
		return 0, &rowError{code: "forbidden", message: "the token is not one of PROCESS_TOKENS"}
	case strings.Contains(imageURL, "/placeholder/"): // in process: the Warmer's error
		reason := ingest.PlaceholderReason(path.Base(path.Dir(imageURL)))
		return 0, fmt.Errorf("warm: store original %s: %w", bookID, &ingest.PlaceholderError{Reason: reason, Detail: "measured"})
	case strings.Contains(imageURL, "/refused/"): // through a service: the job's code and reason
		return 0, &rowError{code: "placeholder_image", message: cover.CodePlaceholderImage.Message(), reason: path.Base(path.Dir(imageURL))}
	}
	return Warmed, nil
}

// stderrFile is a file that stands for os.Stderr, which the progress and
// the interrupt notice write to from more than one goroutine, and a
// function that returns what was written to it.
func stderrFile(t *testing.T) (*os.File, func() string) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, func() string {
		b, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
}

// writeInput writes data to name in a new directory and checks it.
func writeInput(t *testing.T, name, data string) Input {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := CheckInput(path)
	if err != nil {
		t.Fatalf("CheckInput(%s) = %v", name, err)
	}
	return in
}

// TestRunWarmsEveryRow: every row is warmed at most Concurrency at once,
// the rows of one book one after another in file order; the summary, the
// failures file, the last progress line and the error tell the outcome.
func TestRunWarmsEveryRow(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("book_id,image_url\n")
	for k := range 4 {
		for i := range 10 {
			fmt.Fprintf(&b, "B%d,http://h/c/%d-%d.jpg\n", i, i, k)
		}
	}
	b.WriteString("S1,http://h/skip/1.jpg\nF1,http://h/fail/1.jpg\nD1,http://h/denied/1.jpg\nM1,\n")
	in := writeInput(t, "catalog.csv", b.String())
	if in.Rows != 44 {
		t.Fatalf("CheckInput counted %d rows, want 44", in.Rows)
	}
	w := newFakeRows()
	w.delay = time.Millisecond
	cfg := DefaultConfig()
	cfg.Concurrency = 4
	var stdout bytes.Buffer
	stderr, readStderr := stderrFile(t)
	err := Run(context.Background(), cfg, in, w, &stdout, stderr)

	if err == nil || !strings.Contains(err.Error(), "3 rows failed") || errors.Is(err, ErrInterrupted) || errors.Is(err, ErrSetting) {
		t.Errorf("Run = %v, want the error 3 rows failed, not interrupted", err)
	}
	failures := filepath.Join(filepath.Dir(in.Path), "catalog.failures.csv")
	if want := "): 40 warmed, 1 skipped (already current), 3 failed (listed in " + failures + ")\n"; !strings.HasPrefix(stdout.String(), "backfill: 44 rows in ") || !strings.Contains(stdout.String(), want) {
		t.Errorf("stdout = %q, want the summary of 44 rows ending %q", stdout.String(), want)
	}
	if want, got := "backfill: 44/44 (100.0%)", readStderr(); !strings.Contains(got, want) || !strings.HasSuffix(got, "warmed 40  skipped 1  failed 3\n") {
		t.Errorf("stderr = %q, want a last progress line %s ... warmed 40  skipped 1  failed 3", got, want)
	}
	if w.calls != 43 || w.most > cfg.Concurrency || len(w.overlapped) > 0 {
		t.Errorf("%d calls, at most %d at once, books warmed twice at once %v; want 43 calls, at most %d at once, none", w.calls, w.most, w.overlapped, cfg.Concurrency)
	}
	for i := range 10 {
		book := fmt.Sprintf("B%d", i)
		want := []string{}
		for k := range 4 {
			want = append(want, fmt.Sprintf("http://h/c/%d-%d.jpg", i, k))
		}
		if got := w.urls[book]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("rows of %s warmed in the order %v, want the file's %v", book, got, want)
		}
	}
	got, _ := os.ReadFile(failures)
	lines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
	want := []string{
		"book_id,image_url,code,message",
		"M1,,missing_field,line 45: image_url is empty",
		"F1,http://h/fail/1.jpg,source_rejected,fetch http://h/fail/1.jpg: " + ingest.ErrSourceRejected.Error(),
		"D1,http://h/denied/1.jpg,forbidden,the token is not one of PROCESS_TOKENS",
	}
	slices.Sort(lines[1:])
	slices.Sort(want[1:])
	if !slices.Equal(lines, want) {
		t.Errorf("failures file = %q, want the header and then, in any order, %q", got, want[1:])
	}
}

// TestRunInterrupted: when ctx ends no new row starts, the rows in flight
// finish on a context that has not ended, and the run says how to resume.
func TestRunInterrupted(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := range 50 {
		fmt.Fprintf(&b, "{\"book_id\":\"I%d\",\"image_url\":\"http://h/c/%d.jpg\"}\n", i, i)
	}
	in := writeInput(t, "catalog.jsonl", b.String())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := newFakeRows()
	w.delay = 20 * time.Millisecond
	w.onCall = func(n int) {
		if n == 10 {
			cancel()
		}
	}
	cfg := DefaultConfig()
	cfg.Concurrency = 3
	var stdout bytes.Buffer
	stderr, readStderr := stderrFile(t)
	err := Run(ctx, cfg, in, w, &stdout, stderr)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Run = %v, want ErrInterrupted", err)
	}
	if w.calls < 10 || w.calls > 10+cfg.Concurrency || w.cancelledInFlight != 0 {
		t.Errorf("%d rows started (%d saw their context end), want 10 to %d, none cancelled", w.calls, w.cancelledInFlight, 10+cfg.Concurrency)
	}
	wantHead := fmt.Sprintf("backfill: interrupted after %d of 50 rows in ", w.calls)
	wantTail := fmt.Sprintf("): %d warmed, 0 skipped (already current), 0 failed\nbackfill: re-run the same command to resume: books already at their URL are skipped\n", w.calls)
	if !strings.HasPrefix(stdout.String(), wantHead) || !strings.HasSuffix(stdout.String(), wantTail) {
		t.Errorf("stdout = %q, want %q...%q", stdout.String(), wantHead, wantTail)
	}
	if got := readStderr(); !strings.Contains(got, "backfill: interrupted: no new rows; letting rows in flight finish (interrupt again to abandon them)\n") {
		t.Errorf("stderr = %q, want the interrupt notice", got)
	}
	if want := fmt.Sprintf("%d of 50 rows not processed", 50-w.calls); !strings.Contains(err.Error(), want) {
		t.Errorf("Run = %v, want it to say %q", err, want)
	}
}

// TestRunRefusesSettings: a wrong setting is an ErrSetting before any
// work, and the failures file is never the input.
func TestRunRefusesSettings(t *testing.T) {
	t.Parallel()
	const data = "book_id,image_url\nB1,http://h/1.jpg\n"
	in := writeInput(t, "catalog.csv", data)
	bad := DefaultConfig()
	bad.Concurrency, bad.ProgressEvery = 0, 0
	same := DefaultConfig()
	same.Failures = in.Path
	cases := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"bad config", bad, []string{"--concurrency must be 1..1024", "--progress-every must be positive"}},
		{"failures file is the input", same, []string{"--failures " + in.Path + " is the input file"}},
	}
	for _, tc := range cases {
		w := newFakeRows()
		var stdout, stderr bytes.Buffer
		err := Run(context.Background(), tc.cfg, in, w, &stdout, &stderr)
		if !errors.Is(err, ErrSetting) || w.calls != 0 || stdout.Len()+stderr.Len() != 0 {
			t.Errorf("%s: Run = %v after %d calls, output %q%q; want an ErrSetting before any work", tc.name, err, w.calls, stdout.String(), stderr.String())
			continue
		}
		for _, m := range tc.want {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("%s: Run = %q, want it to say %q", tc.name, err, m)
			}
		}
	}
	if b, _ := os.ReadFile(in.Path); string(b) != data {
		t.Errorf("the input was modified: %q", b)
	}
}

// TestRunCountsRefusedPlaceholders: rows refused as placeholders, in
// process or by a service, are counted by reason in the progress and the
// summary and listed in the failures file with their reason, and are not
// failures: the run succeeds when nothing else failed.
func TestRunCountsRefusedPlaceholders(t *testing.T) {
	t.Parallel()
	in := writeInput(t, "catalog.csv", "book_id,image_url\n"+
		"W1,http://h/c/1.jpg\n"+
		"P1,http://h/placeholder/tiny/1.gif\n"+
		"P2,http://h/placeholder/uniform/2.jpg\n"+
		"P3,http://h/refused/known/3.jpg\n"+
		"P4,http://h/refused/tiny/4.gif\n")
	var stdout bytes.Buffer
	stderr, readStderr := stderrFile(t)
	if err := Run(context.Background(), DefaultConfig(), in, newFakeRows(), &stdout, stderr); err != nil {
		t.Errorf("Run = %v; want nil (refusals are not failures)", err)
	}
	failures := filepath.Join(filepath.Dir(in.Path), "catalog.failures.csv")
	for _, want := range []string{
		"): 1 warmed, 0 skipped (already current), 0 failed\n",
		"\nbackfill: refused as placeholders: 4 (tiny 2, known 1, uniform 1) (listed in " + failures + ")\n",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout = %q; want it to contain %q", stdout.String(), want)
		}
	}
	if got := readStderr(); !strings.HasSuffix(got, "warmed 1  skipped 0  failed 0  refused 4\n") {
		t.Errorf("stderr = %q; want a last progress line ending warmed 1  skipped 0  failed 0  refused 4", got)
	}
	b, err := os.ReadFile(failures)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	slices.Sort(lines[1:])
	want := []string{
		"P1,http://h/placeholder/tiny/1.gif,placeholder_image,reason tiny: warm: store original P1: placeholder image (tiny): measured",
		"P2,http://h/placeholder/uniform/2.jpg,placeholder_image,reason uniform: warm: store original P2: placeholder image (uniform): measured",
		"P3,http://h/refused/known/3.jpg,placeholder_image," + csvField("reason known: "+cover.CodePlaceholderImage.Message()),
		"P4,http://h/refused/tiny/4.gif,placeholder_image," + csvField("reason tiny: "+cover.CodePlaceholderImage.Message()),
	}
	if len(lines) != 5 || !slices.Equal(lines[1:], want) {
		t.Errorf("failures file:\n%s\nwant the header and\n%s", b, strings.Join(want, "\n"))
	}
}

// csvField is s as encoding/csv writes a field that holds a quote.
func csvField(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
