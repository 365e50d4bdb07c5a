package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/internal/hostile"
	"github.com/bookcovers/image-worker/internal/testenv"
)

// coverOrigin is a loopback origin for backfill tests: /c/* serves the tiny
// cover, /u/{n}.jpg the tiny cover with n in a comment (bytes of its own
// for each n, the same pixels), /text/*
// a text file, anything else 404. It counts requests per path and calls
// onHit (if set) with the running total of cover requests.
type coverOrigin struct {
	srv   *httptest.Server
	cover []byte
	total atomic.Int64
	onHit atomic.Pointer[func(n int64)]
	mu    sync.Mutex
	hits  map[string]int
}

func newCoverOrigin(t *testing.T) *coverOrigin {
	o := &coverOrigin{cover: readTestdata(t, "cover-50x75-tiny.jpg"), hits: map[string]int{}}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.hits[r.URL.Path]++
		o.mu.Unlock()
		switch {
		case strings.HasPrefix(r.URL.Path, "/u/"):
			var n int
			if _, err := fmt.Sscanf(r.URL.Path, "/u/%d.jpg", &n); err != nil {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "image/jpeg")
			_, _ = w.Write(hostile.JPEGWithComment(o.cover, fmt.Sprintf("cover %d", n)))
		case strings.HasPrefix(r.URL.Path, "/c/"):
			n := o.total.Add(1)
			if f := o.onHit.Load(); f != nil {
				(*f)(n)
			}
			w.Header().Set("Content-Type", "image/jpeg")
			_, _ = w.Write(o.cover)
		case strings.HasPrefix(r.URL.Path, "/text/"):
			_, _ = w.Write([]byte("hello, this is not a cover\n"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *coverOrigin) url(path string) string { return o.srv.URL + path }

func (o *coverOrigin) hostPort() string { return strings.TrimPrefix(o.srv.URL, "http://") }

// pathHits returns the request count of every path under prefix.
func (o *coverOrigin) pathHits(prefix string) map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string]int{}
	for p, n := range o.hits {
		if strings.HasPrefix(p, prefix) {
			out[p] = n
		}
	}
	return out
}

// backfillBucket is a fresh bucket on the test MinIO with the env an
// in-process backfill reads, and a store to check the result.
type backfillBucket struct {
	env   map[string]string
	store cache.Store
}

func newBackfillBucket(t *testing.T, origin interface{ hostPort() string }) backfillBucket {
	t.Helper()
	m := testenv.MinIO(t)
	bucket := randomBucket()
	env := map[string]string{
		"S3_ENDPOINT": m.Endpoint, "S3_ACCESS_KEY": m.AccessKey, "S3_SECRET_KEY": m.SecretKey,
		"IMAGE_STORAGE_BUCKET": bucket, "IMAGE_SIGNING_KEYS": testKeyHex, "KAFKA_BROKERS": "", "PRERENDER": "",
		"LOG_LEVEL": "error", "SOURCE_ALLOW_PRIVATE_HOSTS": origin.hostPort(),
	}
	cfg := cache.DefaultMinIOConfig()
	cfg.Endpoint, cfg.AccessKey, cfg.SecretKey, cfg.Bucket = m.Endpoint, m.AccessKey, m.SecretKey, bucket
	store, err := cache.NewMinIOStore(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("NewMinIOStore: %v", err)
	}
	return backfillBucket{env: env, store: store}
}

// manifestBooks lists the books with a manifest in the store.
func manifestBooks(t *testing.T, store cache.Store) map[string]bool {
	t.Helper()
	keys, err := store.List(context.Background(), "manifests/")
	if err != nil {
		t.Fatalf("List manifests: %v", err)
	}
	out := map[string]bool{}
	for _, k := range keys {
		out[strings.TrimSuffix(strings.TrimPrefix(k, "manifests/"), ".json")] = true
	}
	return out
}

// lockedBuffer is a bytes.Buffer safe for the progress goroutine and the logger.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *lockedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *lockedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runBackfillCmd runs `image-worker backfill args...` as main would.
func runBackfillCmd(ctx context.Context, env map[string]string, args ...string) (code int, stdout, stderr string) {
	var out, errOut lockedBuffer
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	code = run(ctx, append([]string{"backfill"}, args...), lookup, &out, &errOut)
	return code, out.String(), errOut.String()
}

var summaryRE = regexp.MustCompile(`backfill: (?:interrupted after )?(\d+)(?: of \d+)? rows in (\S+) \(([\d.]+) covers/s\): (\d+) warmed, (\d+) skipped \(already current\), (\d+) failed`)

type backfillSummary struct {
	rows, warmed, skipped, failed int
	rate                          float64
	elapsed                       string
}

func parseSummary(t *testing.T, stdout string) backfillSummary {
	t.Helper()
	m := summaryRE.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no summary line in stdout:\n%s", stdout)
	}
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	rate, _ := strconv.ParseFloat(m[3], 64)
	return backfillSummary{rows: atoi(m[1]), elapsed: m[2], rate: rate, warmed: atoi(m[4]), skipped: atoi(m[5]), failed: atoi(m[6])}
}

// readFailures reads a failures CSV into book_id -> code.
func readFailures(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open failures file: %v", err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) == 0 || strings.Join(recs[0], ",") != "book_id,image_url,code,message" {
		t.Fatalf("failures file %s: %v, header %v; want book_id,image_url,code,message", path, err, recs)
	}
	out := map[string]string{}
	for _, r := range recs[1:] {
		if r[3] == "" {
			t.Errorf("failure row %v has no message", r)
		}
		out[r[0]] = r[2]
	}
	return out
}

func writeTestFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// badRows are rows that must each fail with their code, never stop the run.
func badRows(o *coverOrigin) []struct{ book, url, code string } {
	return []struct{ book, url, code string }{
		{"bad id!", o.url("/c/bad.jpg"), "invalid_book_id"},
		{"B-no-url", "", "missing_field"},
		{"B-ftp", "ftp://127.0.0.1/x.jpg", "invalid_url"},
		{"B-blocked", "http://127.0.0.1:1/x.jpg", "blocked_address"}, // loopback, but not the allowed host:port
		{"B-404", o.url("/missing/x.jpg"), "source_rejected"},
		{"B-text", o.url("/text/x.jpg"), "not_an_image"},
	}
}

// TestBackfillMinIO: 2000 covers from 8 distinct URLs plus bad rows, in
// process against MinIO. Every good book is warmed, the failures file lists
// exactly the bad rows with their codes, a re-run skips every book and
// fetches nothing.
func TestBackfillMinIO(t *testing.T) {
	origin := newCoverOrigin(t)
	bb := newBackfillBucket(t, origin)
	const n = 2000
	bad := badRows(origin)
	var b strings.Builder
	b.WriteString("book_id,title,image_url\n")
	for i := range n {
		fmt.Fprintf(&b, "BF-%04d,\"Title %d, vol. 1\",%s\n", i, i, origin.url(fmt.Sprintf("/c/%d.jpg", i%8)))
		if i%333 == 0 && i/333 < len(bad) {
			r := bad[i/333]
			fmt.Fprintf(&b, "%s,x,%s\n", r.book, r.url)
		}
	}
	dir := t.TempDir()
	input := filepath.Join(dir, "catalog.csv")
	writeTestFile(t, input, b.String())

	code, stdout, stderr := runBackfillCmd(context.Background(), bb.env, input)
	if code != 1 {
		t.Fatalf("backfill with bad rows exited %d, want 1 (failures)\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	s := parseSummary(t, stdout)
	if s.rows != n+len(bad) || s.warmed != n || s.skipped != 0 || s.failed != len(bad) {
		t.Errorf("summary %+v, want %d rows: %d warmed, 0 skipped, %d failed", s, n+len(bad), n, len(bad))
	}
	t.Logf("in-process backfill of %d covers against MinIO: %s, %.1f covers/s (concurrency 8)", n, s.elapsed, s.rate)
	if !strings.Contains(stderr, "backfill: "+strconv.Itoa(n+len(bad))+"/"+strconv.Itoa(n+len(bad))) {
		t.Errorf("stderr has no final plain progress line %d/%d:\n%s", n+len(bad), n+len(bad), stderr)
	}

	failures := readFailures(t, filepath.Join(dir, "catalog.failures.csv"))
	if len(failures) != len(bad) {
		t.Errorf("failures file has %d rows %v, want exactly the %d bad rows", len(failures), failures, len(bad))
	}
	for _, r := range bad {
		if got := failures[r.book]; got != r.code {
			t.Errorf("failure code of %q (%s) = %q, want %q", r.book, r.url, got, r.code)
		}
	}
	books := manifestBooks(t, bb.store)
	if len(books) != n {
		t.Errorf("%d manifests in the bucket, want %d", len(books), n)
	}
	manifests := cache.NewManifests(bb.store, time.Second, 5*time.Second)
	for _, i := range []int{0, 1, 7, 8, 999, 1998, 1999} {
		m, err := manifests.Load(context.Background(), fmt.Sprintf("BF-%04d", i))
		if want := origin.url(fmt.Sprintf("/c/%d.jpg", i%8)); err != nil || m.SourceURL != want || m.Width != 50 || m.Height != 75 {
			t.Errorf("manifest of BF-%04d = %+v, %v; want 50x75 from %s", i, m, err, want)
		}
	}
	if got := origin.total.Load(); got != n {
		t.Errorf("the origin served %d covers, want %d (one per book)", got, n)
	}

	// Re-run with an explicit failures file: every good book is skipped.
	code, stdout, _ = runBackfillCmd(context.Background(), bb.env, "--concurrency", "16", input, "--failures", filepath.Join(dir, "again.csv"))
	s = parseSummary(t, stdout)
	if code != 1 || s.warmed != 0 || s.skipped != n || s.failed != len(bad) {
		t.Errorf("re-run exited %d with %+v, want 1 with 0 warmed, %d skipped, %d failed", code, s, n, len(bad))
	}
	if got := origin.total.Load(); got != n {
		t.Errorf("after the re-run the origin served %d covers, want still %d", got, n)
	}
	if f := readFailures(t, filepath.Join(dir, "again.csv")); len(f) != len(bad) {
		t.Errorf("re-run failures file has %d rows, want %d", len(f), len(bad))
	}
}

// TestBackfillInterruptAndResume: a JSON Lines run cancelled part-way stops
// taking rows, finishes those in flight and exits non-zero; the re-run
// skips what was done and warms the rest. Every book ends warmed and its
// own URL was fetched exactly once over both runs.
func TestBackfillInterruptAndResume(t *testing.T) {
	origin := newCoverOrigin(t)
	bb := newBackfillBucket(t, origin)
	const n, stopAt = 1000, 200
	var b strings.Builder
	for i := range n {
		line, _ := json.Marshal(map[string]any{"book_id": fmt.Sprintf("IR-%04d", i), "image_url": origin.url(fmt.Sprintf("/c/ir-%d.jpg", i)), "rank": i})
		b.Write(append(line, '\n'))
	}
	dir := t.TempDir()
	input := filepath.Join(dir, "catalog.jsonl")
	writeTestFile(t, input, b.String())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := func(total int64) {
		if total == stopAt {
			cancel()
		}
	}
	origin.onHit.Store(&stop)
	code, stdout, stderr := runBackfillCmd(ctx, bb.env, "--concurrency", "8", input)
	origin.onHit.Store(nil)
	first := parseSummary(t, stdout)
	if code == 0 || !strings.Contains(stdout, "interrupted after") || !strings.Contains(stderr, "interrupted") {
		t.Errorf("interrupted run exited %d, want non-zero and an interrupted summary\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	done := len(manifestBooks(t, bb.store))
	if first.warmed < stopAt || first.warmed >= n || done != first.warmed || first.failed != 0 {
		t.Errorf("interrupted run: %+v with %d manifests; want %d <= warmed < %d, every warmed row stored, none failed", first, done, stopAt, n)
	}
	if got := origin.total.Load(); got != int64(first.warmed) {
		t.Errorf("interrupted run fetched %d covers but warmed %d: rows in flight must finish", got, first.warmed)
	}

	code, stdout, stderr = runBackfillCmd(context.Background(), bb.env, input)
	second := parseSummary(t, stdout)
	if code != 0 || second.skipped != first.warmed || second.warmed != n-first.warmed || second.failed != 0 {
		t.Errorf("resumed run exited %d with %+v, want 0 with %d skipped and %d warmed\nstderr: %s", code, second, first.warmed, n-first.warmed, stderr)
	}
	if got := len(manifestBooks(t, bb.store)); got != n {
		t.Errorf("%d books warmed after the resume, want %d", got, n)
	}
	hits := origin.pathHits("/c/")
	if len(hits) != n {
		t.Errorf("%d distinct cover URLs fetched, want %d", len(hits), n)
	}
	for p, c := range hits {
		if c != 1 {
			t.Errorf("%s fetched %d times over both runs, want once", p, c)
		}
	}
}

// TestBackfillServer: --server posts every row to a running service and
// polls its jobs; failures carry the service's codes; a re-run fetches
// nothing new because the service skips books already at their URL.
func TestBackfillServer(t *testing.T) {
	origin := newCoverOrigin(t)
	store := minioStore(t)
	svc := startService(t, store, nil, map[string]string{"SOURCE_ALLOW_PRIVATE_HOSTS": origin.hostPort()})
	const n = 200
	var b strings.Builder
	b.WriteString("book_id,image_url\n")
	for i := range n {
		fmt.Fprintf(&b, "SV-%03d,%s\n", i, origin.url(fmt.Sprintf("/c/sv-%d.jpg", i)))
	}
	b.WriteString("bad id!," + origin.url("/c/bad.jpg") + "\nSV-404," + origin.url("/missing/x.jpg") + "\nSV-text," + origin.url("/text/x.jpg") + "\n")
	dir := t.TempDir()
	input := filepath.Join(dir, "catalog.csv")
	writeTestFile(t, input, b.String())

	code, stdout, stderr := runBackfillCmd(context.Background(), nil, "--server", svc.base, input)
	s := parseSummary(t, stdout)
	if code != 1 || s.warmed != n || s.failed != 3 {
		t.Fatalf("--server backfill exited %d with %+v, want 1 with %d warmed and 3 failed\nstdout: %s\nstderr: %s", code, s, n, stdout, stderr)
	}
	want := map[string]string{"bad id!": "invalid_book_id", "SV-404": "source_rejected", "SV-text": "not_an_image"}
	got := readFailures(t, filepath.Join(dir, "catalog.failures.csv"))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("failures = %v, want %v", got, want)
	}
	for i := range n {
		m, err := svc.app.manifests.Load(context.Background(), fmt.Sprintf("SV-%03d", i))
		if err != nil || m.SourceURL != origin.url(fmt.Sprintf("/c/sv-%d.jpg", i)) {
			t.Fatalf("manifest of SV-%03d = %+v, %v; want one from its URL", i, m, err)
		}
	}
	code, stdout, _ = runBackfillCmd(context.Background(), nil, "--server", svc.base, "--concurrency", "4", input)
	if s := parseSummary(t, stdout); code != 1 || s.warmed != n || s.failed != 3 {
		t.Errorf("second --server run exited %d with %+v, want 1 with %d warmed, 3 failed", code, s, n)
	}
	if got := origin.total.Load(); got != n {
		t.Errorf("the origin served %d covers over two --server runs, want %d (the service skips current books)", got, n)
	}
}

// TestBackfillUsage: bad invocations and unreadable input fail before any
// work, naming the problem.
func TestBackfillUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	noHeader := filepath.Join(dir, "noheader.csv")
	writeTestFile(t, noHeader, "B1,http://127.0.0.1:9/x.jpg\n")
	// A wrong command line exits 2, a failed backfill 1.
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no file", nil, 2, "usage"},
		{"two files", []string{"a.csv", "b.csv"}, 2, "usage"},
		{"zero concurrency", []string{"--concurrency", "0", noHeader}, 2, "concurrency"},
		{"unknown flag", []string{"--bogus", noHeader}, 2, "-bogus"},
		{"missing file", []string{filepath.Join(dir, "nope.csv")}, 1, "no such file"},
		{"missing header", []string{noHeader}, 1, "no book_id or image_url column"},
		{"bad server URL", []string{"--server", "ftp://127.0.0.1", noHeader}, 2, "--server must be an http(s) base URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runBackfillCmd(context.Background(), nil, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("backfill %v = %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.want)
			}
			if stdout != "" {
				t.Errorf("backfill %v printed %q, want nothing on stdout", tc.args, stdout)
			}
		})
	}
}
