package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
	"github.com/bookcovers/image-worker/internal/hostile"
	"github.com/bookcovers/image-worker/internal/testenv"
)

// qualityColumns are the optional catalog columns, as the deploy examples
// name them.
var qualityColumns = map[string]string{
	"CATALOG_WIDTH_COLUMN": "cover_width", "CATALOG_HEIGHT_COLUMN": "cover_height",
	"CATALOG_DOMINANT_COLOR_COLUMN": "cover_dominant_color", "CATALOG_BLURHASH_COLUMN": "cover_blurhash",
	"CATALOG_STATUS_COLUMN": "cover_status",
}

// qualityRow is a book's catalog row ("" and 0 for NULL).
type qualityRow struct {
	Version, Status, Colour, BlurHash string
	Width, Height                     int
}

func (f catalogFixture) qualityRow(t *testing.T, conn *pgx.Conn, book string) qualityRow {
	t.Helper()
	var r qualityRow
	err := conn.QueryRow(t.Context(), fmt.Sprintf(`SELECT coalesce(cover_version, ''), coalesce(cover_status, ''),
		coalesce(cover_dominant_color, ''), coalesce(cover_blurhash, ''), coalesce(cover_width, 0), coalesce(cover_height, 0)
		FROM %s WHERE book_id = $1`, f.table), book).Scan(&r.Version, &r.Status, &r.Colour, &r.BlurHash, &r.Width, &r.Height)
	if err != nil {
		t.Fatalf("read catalog row %s: %v", book, err)
	}
	return r
}

// TestPlaceholdersRefusedEndToEnd: the service on real MinIO, with a real
// PostgreSQL catalog naming every optional column and a reference
// directory. A book with a good cover is sent Open Library's 1x1 GIF: the
// job fails with placeholder_image and reason tiny, nothing is stored, the
// good cover stays current and its row stays ok with its metadata. Books
// without a cover are sent a copy of the reference (known), a flat grey
// card (uniform) and a URL that answers 404: their rows say placeholder,
// placeholder and missing. The refusals are counted by reason.
func TestPlaceholdersRefusedEndToEnd(t *testing.T) {
	books := []string{"GOOD", "KNOWN", "FLAT", "GONE"}
	catalog := newCatalogFixture(t, testenv.Postgres(t), books)
	conn := catalog.connect(t)
	defer conn.Close(context.Background())
	for _, ddl := range []string{"cover_width integer", "cover_height integer", "cover_dominant_color text", "cover_blurhash text", "cover_status text"} {
		if _, err := conn.Exec(t.Context(), fmt.Sprintf(`ALTER TABLE %s ADD COLUMN %s`, catalog.table, ddl)); err != nil {
			t.Fatal(err)
		}
	}
	refs := t.TempDir()
	if err := os.WriteFile(filepath.Join(refs, "no-image.png"), hostile.EncodePNG(hostile.NoImagePicture(300, 450)), 0o644); err != nil {
		t.Fatal(err)
	}
	overrides := catalog.env()
	for k, v := range qualityColumns {
		overrides[k] = v
	}
	overrides["PLACEHOLDER_REFERENCES_DIR"] = refs
	src := newSource(t)
	store := minioStore(t)
	svc := startService(t, store, src, overrides)

	photo := readTestdata(t, "photo-1600x2400-baseline.jpg")
	good := svc.warm("GOOD", src.add("/good.jpg", photo))
	gif := hostile.TransparentGIF1x1()
	cases := []struct {
		book, path string
		body       []byte // nil: the source answers 404
		code       string
		reason     string
	}{
		{"GOOD", "/none.gif", gif, "placeholder_image", "tiny"},
		{"KNOWN", "/known.jpg", hostile.EncodeJPEG(hostile.NoImagePicture(120, 180), 60), "placeholder_image", "known"},
		{"FLAT", "/flat.jpg", hostile.EncodeJPEG(hostile.Flat(300, 450, 128), 90), "placeholder_image", "uniform"},
		{"GONE", "/gone.jpg", nil, "source_rejected", ""},
	}
	for _, c := range cases {
		u := src.srv.URL + c.path
		if c.body != nil {
			u = src.add(c.path, c.body)
		}
		j := svc.waitJob(svc.process(c.book, u, ""))
		if j.State != "failed" || j.Error == nil || j.Error.Code != c.code || j.Error.Reason != c.reason || j.Error.Message != cover.Code(c.code).Message() {
			t.Errorf("job for %s from %s = %+v (error %+v); want failed with %s, reason %q", c.book, c.path, j, j.Error, c.code, c.reason)
		}
		if c.body == nil {
			continue
		}
		if _, err := store.Get(t.Context(), cover.OriginalKey(c.book, ingest.Version(c.body))); !errors.Is(err, cache.ErrNotFound) {
			t.Errorf("%s: the refused original is in the store (%v); want nothing stored", c.book, err)
		}
	}

	// /v2/process answers a refused placeholder with 422 and its code.
	resp, body := postV2(t, svc.base, "FLAT", src.add("/flat2.jpg", hostile.EncodeJPEG(hostile.Flat(300, 450, 60), 90)))
	if resp.StatusCode != 422 || !strings.Contains(string(body), `"code":"placeholder_image"`) {
		t.Errorf("POST /v2/process of a flat card = %d %s; want 422 placeholder_image", resp.StatusCode, body)
	}

	obj, err := store.Get(t.Context(), cover.ManifestKey("GOOD"))
	if err != nil {
		t.Fatalf("GOOD's manifest: %v", err)
	}
	var m cover.Manifest
	if err := json.Unmarshal(obj.Data, &m); err != nil || m.Version != good.Version || m.DominantColor == "" || m.BlurHash == "" {
		t.Fatalf("GOOD's manifest after the placeholder = %+v, %v; want the good version %s with its dominant colour and blurhash", m, err, good.Version)
	}
	resp, body = do(t, "GET", svc.signed("/covers/GOOD/160.webp"), nil)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == "" || len(body) < 1000 {
		t.Errorf("GET GOOD's cover after the placeholder = %d, %d bytes; want the good cover", resp.StatusCode, len(body))
	}
	for _, c := range []string{"KNOWN", "FLAT", "GONE"} {
		if _, err := store.Get(t.Context(), cover.ManifestKey(c)); !errors.Is(err, cache.ErrNotFound) {
			t.Errorf("%s has a manifest (%v); want none", c, err)
		}
	}

	want := map[string]qualityRow{
		"GOOD":  {Version: good.Version, Status: "ok", Colour: m.DominantColor, BlurHash: m.BlurHash, Width: 1600, Height: 2400},
		"KNOWN": {Status: "placeholder"},
		"FLAT":  {Status: "placeholder"},
		"GONE":  {Status: "missing"},
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, book := range books {
		for got := catalog.qualityRow(t, conn, book); got != want[book]; got = catalog.qualityRow(t, conn, book) {
			if time.Now().After(deadline) {
				t.Fatalf("catalog row %s = %+v; want %+v", book, got, want[book])
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitOutboxEmpty(t, store)
	for reason, n := range map[string]float64{"tiny": 1, "known": 1, "uniform": 2, "aspect": 0} { // uniform: FLAT twice, by /process and /v2/process
		name := fmt.Sprintf(`covers_ingest_placeholders_refused_total{reason=%q}`, reason)
		if got := metricValue(t, svc, name); got != n {
			t.Errorf("%s = %v; want %v", name, got, n)
		}
	}
}

// TestBackfillCountsRefusedPlaceholders: a backfill, in process against
// MinIO and with --server against a running service, of a cover and three
// placeholders (Open Library's 1x1 GIF, a flat grey card, a copy of a
// reference): the cover is warmed, the placeholders are refused, listed in
// the failures file and counted by reason in the summary, and the run
// succeeds (exit 0).
func TestBackfillCountsRefusedPlaceholders(t *testing.T) {
	refs := t.TempDir()
	if err := os.WriteFile(filepath.Join(refs, "no-image.png"), hostile.EncodePNG(hostile.NoImagePicture(300, 450)), 0o644); err != nil {
		t.Fatal(err)
	}
	src := newSource(t)
	rows := "book_id,image_url\n" +
		"RF-GOOD," + src.add("/good.jpg", readTestdata(t, "cover-50x75-tiny.jpg")) + "\n" +
		"RF-TINY," + src.add("/none.gif", hostile.TransparentGIF1x1()) + "\n" +
		"RF-FLAT," + src.add("/flat.jpg", hostile.EncodeJPEG(hostile.Flat(300, 450, 200), 90)) + "\n" +
		"RF-KNOWN," + src.add("/known.jpg", hostile.EncodeJPEG(hostile.NoImagePicture(200, 300), 70)) + "\n"
	wantFailures := map[string]string{"RF-TINY": "placeholder_image", "RF-FLAT": "placeholder_image", "RF-KNOWN": "placeholder_image"}
	const wantLine = "backfill: refused as placeholders: 3 (tiny 1, known 1, uniform 1)"

	check := func(t *testing.T, mode string, code int, stdout, stderr, dir string, store cache.Store) {
		t.Helper()
		s := parseSummary(t, stdout)
		if code != 0 || s.rows != 4 || s.warmed != 1 || s.failed != 0 || !strings.Contains(stdout, wantLine) {
			t.Fatalf("%s backfill exited %d with %+v; want 0 with 4 rows, 1 warmed, 0 failed and %q\nstdout: %s\nstderr: %s",
				mode, code, s, wantLine, stdout, stderr)
		}
		if got := readFailures(t, filepath.Join(dir, "catalog.failures.csv")); fmt.Sprint(got) != fmt.Sprint(wantFailures) {
			t.Errorf("%s failures = %v, want %v", mode, got, wantFailures)
		}
		if got := manifestBooks(t, store); len(got) != 1 || !got["RF-GOOD"] {
			t.Errorf("%s: books with a manifest = %v, want RF-GOOD only", mode, got)
		}
	}

	t.Run("in process", func(t *testing.T) {
		bb := newBackfillBucket(t, src)
		bb.env["PLACEHOLDER_REFERENCES_DIR"] = refs
		dir := t.TempDir()
		input := filepath.Join(dir, "catalog.csv")
		writeTestFile(t, input, rows)
		code, stdout, stderr := runBackfillCmd(context.Background(), bb.env, input)
		check(t, "in-process", code, stdout, stderr, dir, bb.store)
	})
	t.Run("server", func(t *testing.T) {
		store := minioStore(t)
		svc := startService(t, store, src, map[string]string{"PLACEHOLDER_REFERENCES_DIR": refs})
		dir := t.TempDir()
		input := filepath.Join(dir, "catalog.csv")
		writeTestFile(t, input, rows)
		code, stdout, stderr := runBackfillCmd(context.Background(), nil, "--server", svc.base, input)
		check(t, "--server", code, stdout, stderr, dir, store)
	})
}
