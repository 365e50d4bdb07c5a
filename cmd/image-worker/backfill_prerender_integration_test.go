package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
)

// TestBackfillPrerendersMinIO: an in-process backfill with PRERENDER set
// stores every variant of every warmed book (sizes clamped to the 50x75
// original like the cover path's keys), one ladder per book, and says so.
// Each book has a cover of its own (covers shared by content are
// TestBackfillSharedCoversMinIO's).
func TestBackfillPrerendersMinIO(t *testing.T) {
	origin := newCoverOrigin(t)
	bb := newBackfillBucket(t, origin)
	bb.env["PRERENDER"] = "16,32x32.avif,thumb.webp"
	const n = 5
	var b strings.Builder
	b.WriteString("book_id,image_url\n")
	for i := range n {
		fmt.Fprintf(&b, "PB-%d,%s\n", i, origin.url(fmt.Sprintf("/u/%d.jpg", i)))
	}
	input := filepath.Join(t.TempDir(), "books.csv")
	writeTestFile(t, input, b.String())
	code, stdout, stderr := runBackfillCmd(context.Background(), bb.env, "--concurrency", "2", input)
	if code != 0 {
		t.Fatalf("backfill exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if s := parseSummary(t, stdout); s.warmed != n {
		t.Fatalf("backfill warmed %d books, want %d:\n%s", s.warmed, n, stdout)
	}
	if want := fmt.Sprintf("backfill: PRERENDER: %d variants stored for %d books, one render operation per book", 4*n, n); !strings.Contains(stdout, want) {
		t.Errorf("stdout lacks %q:\n%s", want, stdout)
	}
	for i := range n {
		book := fmt.Sprintf("PB-%d", i)
		m, err := cache.NewManifests(bb.store, time.Minute, 5*time.Second).Load(context.Background(), book)
		if err != nil {
			t.Fatalf("manifest of %s: %v", book, err)
		}
		keys, err := bb.store.List(context.Background(), m.Variant(16, 0, false, "webp").StorePrefix())
		if err != nil {
			t.Fatalf("List variants of %s: %v", book, err)
		}
		// 16.webp, 16.avif, 32x32.avif and thumb (96, clamped to 50).webp,
		// by the content of the book's original.
		want := map[string]bool{}
		for _, k := range []cover.VariantKey{
			{Content: m.Content, Width: 16, Format: "webp"},
			{Content: m.Content, Width: 16, Format: "avif"},
			{Content: m.Content, Width: 32, Height: 32, Format: "avif"},
			{Content: m.Content, Width: 50, Format: "webp"},
		} {
			if k.Content == "" || m.Variant(k.Width, k.Height, false, k.Format) != (cover.VariantKey{BookID: book, Version: m.Version, Content: m.Content, Width: k.Width, Height: k.Height, Format: k.Format}) {
				t.Fatalf("manifest of %s = %+v: not stored by content, or its keys are not these", book, m)
			}
			want[k.StoreKey()] = true
		}
		got := map[string]bool{}
		for _, k := range keys {
			got[k] = true
		}
		if len(got) != len(want) {
			t.Errorf("variants of %s = %v, want %v", book, keys, want)
			continue
		}
		for k := range want {
			if !got[k] {
				t.Errorf("variants of %s = %v, want %v", book, keys, want)
				break
			}
		}
	}
}
