package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/backfill"
	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/transform"
)

// storeKind names what a key of the store is, for counting: "original",
// "info", "variant" (by content), "ref", "user", "manifest", or the key's
// first segment for anything else.
func storeKind(key string) string {
	switch {
	case strings.HasPrefix(key, cover.ContentsPrefix()) && strings.HasSuffix(key, "/original"):
		return "original"
	case strings.HasPrefix(key, cover.ContentsPrefix()) && strings.HasSuffix(key, "/info.json"):
		return "info"
	case strings.HasPrefix(key, cover.ContentsPrefix()):
		return "variant"
	case strings.HasPrefix(key, cover.RefsPrefix()):
		return "ref"
	case strings.HasPrefix(key, cover.UsersPrefix()):
		return "user"
	case strings.HasPrefix(key, cover.ManifestsPrefix()):
		return "manifest"
	}
	first, _, _ := strings.Cut(key, "/")
	return first
}

// putCountingStore counts writes by storeKind.
type putCountingStore struct {
	cache.Store
	mu   sync.Mutex
	puts map[string]int
}

func (s *putCountingStore) Put(ctx context.Context, key string, data []byte, ct string) error {
	s.mu.Lock()
	s.puts[storeKind(key)]++
	s.mu.Unlock()
	return s.Store.Put(ctx, key, data, ct)
}

func (s *putCountingStore) count(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts[kind]
}

// TestBackfillSharedCoversMinIO is issue 17's measurement: an in-process
// backfill of 1,000 books over 100 distinct covers (book i has cover i mod
// 100, each from a URL of its own on a loopback origin), with PRERENDER's
// four variants, against MinIO. What is stored and rendered scales with the
// 100 covers: 100 originals (100 uploads), 100 checks (decodes), 100
// ladders and 400 variant objects; only the books' own objects (manifests,
// references) scale with the 1,000. Then two books sharing a cover, asked
// for the same size, render it once.
//
// Run time on 2 CPUs shared with other work: about 9 s (18 s with -race),
// bound by MinIO's writes (about 8 ms each with eight at once).
func TestBackfillSharedCoversMinIO(t *testing.T) {
	const books, covers = 1000, 100
	origin := newCoverOrigin(t)
	bb := newBackfillBucket(t, origin)
	bb.env["PRERENDER"] = "16,32x32.avif,thumb.webp" // 16.webp, 16.avif, 32x32.avif, 50.webp on a 50x75 cover
	cfg, err := loadConfig(func(k string) (string, bool) { v, ok := bb.env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	store := &putCountingStore{Store: bb.store, puts: map[string]int{}}
	ctx := context.Background()
	p, err := assemble(ctx, cfg, slog.New(slog.DiscardHandler), assembly{store: store, prerender: prerenderInline})
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	warmer, err := backfill.NewLocalWarmer(backfill.LocalDeps{Warmer: p.warmer, Manifests: p.manifests}, false, cfg.Jobs.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	var rows strings.Builder
	rows.WriteString("book_id,image_url\n")
	for i := range books {
		fmt.Fprintf(&rows, "SB-%04d,%s\n", i, origin.url(fmt.Sprintf("/u/%d.jpg?isbn=%d", i%covers, 9780000000000+i)))
	}
	path := filepath.Join(t.TempDir(), "books.csv")
	writeTestFile(t, path, rows.String())
	input, err := backfill.CheckInput(path)
	if err != nil {
		t.Fatal(err)
	}
	bcfg := backfill.DefaultConfig()
	bcfg.Concurrency = 16 // more than the render workers take at once (2 running, 8 waiting): rows wait for them
	var stdout, stderr bytes.Buffer
	start := time.Now()
	if err := backfill.Run(ctx, bcfg, input, warmer, &stdout, &stderr); err != nil {
		failures, _ := os.ReadFile(filepath.Join(filepath.Dir(path), "books.failures.csv"))
		t.Fatalf("backfill: %v\n%s\n%s\nfailures:\n%.2000s", err, stdout.String(), stderr.String(), failures)
	}
	took := time.Since(start)
	if s := parseSummary(t, stdout.String()); s.warmed != books {
		t.Fatalf("backfill warmed %d books, want %d:\n%s", s.warmed, books, stdout.String())
	}

	keys, err := bb.store.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	objects := map[string]int{}
	for _, k := range keys {
		objects[storeKind(k)]++
	}
	const variants = 4
	want := map[string]int{"original": covers, "info": covers, "variant": covers * variants, "ref": books, "user": books, "manifest": books}
	for kind, n := range want {
		if objects[kind] != n {
			t.Errorf("stored %s objects = %d, want %d", kind, objects[kind], n)
		}
	}
	if len(keys) != 3*books+covers*(2+variants) {
		t.Errorf("stored objects = %d (%v), want %d: 3 per book and %d per cover, nothing else", len(keys), objects, 3*books+covers*(2+variants), 2+variants)
	}
	if n := store.count("original"); n != covers {
		t.Errorf("originals uploaded %d times, want %d (once per cover)", n, covers)
	}
	if n := store.count("variant"); n != covers*variants {
		t.Errorf("variants written %d times, want %d", n, covers*variants)
	}
	checks := metricIn(t, p.renderer.Metrics(), `covers_transform_checks_total{result="ok"}`)
	if checks != covers {
		t.Errorf("ingest checks (decodes) = %v, want %d", checks, covers)
	}
	ladders, stored := p.prerender.Prerendered()
	if ladders != covers || stored != covers*variants || p.prerender.Present() != books-covers || p.renderer.Renders() != covers {
		t.Errorf("prerender: %d books rendered (%d variants), %d found theirs stored, %d render operations; want %d, %d, %d and %d",
			ladders, stored, p.prerender.Present(), p.renderer.Renders(), covers, covers*variants, books-covers, covers)
	}
	t.Logf("backfill of %d books over %d covers: %v; %d objects (%v); %v checks, %d ladders, %d originals uploaded",
		books, covers, took.Round(time.Millisecond), len(keys), objects, checks, ladders, store.count("original"))

	// Two books of one cover asked for the same size: one render. A size
	// PRERENDER stored is read, by a third book, without one.
	svc := startService(t, bb.store, nil, map[string]string{"PRERENDER": ""})
	before := svc.app.renderer.Renders()
	var first []byte
	for _, book := range []string{"SB-0007", "SB-0107"} {
		resp, body := do(t, http.MethodGet, svc.signed("/covers/"+book+"/40.webp"), nil)
		info, err := transform.Probe(body, 0)
		if resp.StatusCode != 200 || err != nil || info.Width != 40 {
			t.Fatalf("GET %s/40.webp = %d %s %d wide (%v), want 200 and 40 wide", book, resp.StatusCode, info.Type, info.Width, err)
		}
		if first == nil {
			first = body
		} else if !bytes.Equal(first, body) {
			t.Errorf("two books of one cover answered different bytes for 40.webp")
		}
	}
	if resp, _ := do(t, http.MethodGet, svc.signed("/covers/SB-0207/thumb.webp"), nil); resp.StatusCode != 200 {
		t.Errorf("GET SB-0207/thumb.webp = %d", resp.StatusCode)
	}
	if n := svc.app.renderer.Renders() - before; n != 1 {
		t.Errorf("40.webp of two books sharing a cover and a prerendered thumb of a third: %d renders, want 1", n)
	}
}

// metricIn reads one sample of a metrics set.
func metricIn(t *testing.T, set interface{ WritePrometheus(w io.Writer) }, name string) float64 {
	t.Helper()
	var b bytes.Buffer
	set.WritePrometheus(&b)
	return sampleValue(t, b.String(), name, "the set")
}
