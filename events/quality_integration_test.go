package events

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
	"github.com/bookcovers/image-worker/internal/hostile"
)

// metaCatalogConfig names every optional column of the write-back.
func metaCatalogConfig() CatalogConfig {
	cfg := DefaultCatalogConfig()
	cfg.Table = "catalog_meta"
	cfg.WidthColumn, cfg.HeightColumn = "cover_width", "cover_height"
	cfg.DominantColorColumn, cfg.BlurHashColumn = "cover_dominant_color", "cover_blurhash"
	cfg.StatusColumn = "cover_status"
	return cfg
}

// metaCatalogTable is catalogTable with the optional columns of cfg added.
func metaCatalogTable(t *testing.T, cfg CatalogConfig, bookIDs ...string) (CatalogConfig, *pgx.Conn) {
	t.Helper()
	cfg, admin := catalogTable(t, cfg, bookIDs...)
	table, _ := cfg.tableIdentifier()
	for col, typ := range map[string]string{cfg.WidthColumn: "integer", cfg.HeightColumn: "integer",
		cfg.DominantColorColumn: "text", cfg.BlurHashColumn: "text", cfg.StatusColumn: "text"} {
		ddl := fmt.Sprintf(`ALTER TABLE %s ADD COLUMN %s %s`, table.Sanitize(), pgx.Identifier{col}.Sanitize(), typ)
		if _, err := admin.Exec(t.Context(), ddl); err != nil {
			t.Fatalf("%s: %v", ddl, err)
		}
	}
	return cfg, admin
}

// metaRow is a book's row with every optional column ("" and 0 for NULL).
type metaRow struct {
	Version, Status, Colour, BlurHash string
	Width, Height                     int
	UpdatedAt                         time.Time
}

func readMetaRow(t *testing.T, admin *pgx.Conn, cfg CatalogConfig, bookID string) metaRow {
	t.Helper()
	table, _ := cfg.tableIdentifier()
	sql := fmt.Sprintf(`SELECT coalesce(%s, ''), coalesce(%s, ''), coalesce(%s, ''), coalesce(%s, ''), coalesce(%s, 0), coalesce(%s, 0),
		coalesce(%s, 'epoch') FROM %s WHERE %s = $1`,
		cfg.VersionColumn, cfg.StatusColumn, cfg.DominantColorColumn, cfg.BlurHashColumn, cfg.WidthColumn, cfg.HeightColumn,
		cfg.UpdatedAtColumn, table.Sanitize(), cfg.BookIDColumn)
	var r metaRow
	if err := admin.QueryRow(t.Context(), sql, bookID).Scan(&r.Version, &r.Status, &r.Colour, &r.BlurHash, &r.Width, &r.Height, &r.UpdatedAt); err != nil {
		t.Fatalf("read row %s: %v", bookID, err)
	}
	r.UpdatedAt = r.UpdatedAt.UTC()
	return r
}

// TestCatalogWritesCoverMetadata: with the optional columns named, a cover's
// width, height, dominant colour, blurhash and cover_status ok go in the
// same never-backwards UPDATE as its URL: an older update with other
// metadata changes nothing, a newer one replaces all of it, and a cover
// without a colour or blurhash (a manifest from before they existed) writes
// NULL.
func TestCatalogWritesCoverMetadata(t *testing.T) {
	t.Parallel()
	cfg, admin := metaCatalogTable(t, metaCatalogConfig(), "B1")
	c := newTestCatalog(t, cfg)
	t1 := time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)
	first := CatalogUpdate{BookID: "B1", StorageURL: "s3://b/originals/B1/aaaaaaaaaaaa", Version: "aaaaaaaaaaaa", VersionTime: t1,
		Width: 1600, Height: 2400, DominantColor: "#a66938", BlurHash: "TDGtl|9brW3Xs+ENj^XSxY~8NKjE"}
	if err := c.Update(t.Context(), first); err != nil {
		t.Fatalf("Update(first) = %v", err)
	}
	want := metaRow{Version: "aaaaaaaaaaaa", Status: "ok", Colour: "#a66938", BlurHash: "TDGtl|9brW3Xs+ENj^XSxY~8NKjE", Width: 1600, Height: 2400, UpdatedAt: t1}
	if got := readMetaRow(t, admin, cfg, "B1"); got != want {
		t.Fatalf("row after the first cover = %+v, want %+v", got, want)
	}
	older := CatalogUpdate{BookID: "B1", StorageURL: "s3://b/originals/B1/bbbbbbbbbbbb", Version: "bbbbbbbbbbbb", VersionTime: t1.Add(-time.Hour),
		Width: 10, Height: 15, DominantColor: "#000000", BlurHash: "older"}
	if err := c.Update(t.Context(), older); err != nil {
		t.Fatalf("Update(older) = %v", err)
	}
	if got := readMetaRow(t, admin, cfg, "B1"); got != want {
		t.Errorf("row after an older cover with other metadata = %+v, want it unchanged %+v", got, want)
	}
	newer := CatalogUpdate{BookID: "B1", StorageURL: "s3://b/originals/B1/cccccccccccc", Version: "cccccccccccc", VersionTime: t1.Add(time.Hour),
		Width: 50, Height: 75}
	if err := c.Update(t.Context(), newer); err != nil {
		t.Fatalf("Update(newer) = %v", err)
	}
	want = metaRow{Version: "cccccccccccc", Status: "ok", Width: 50, Height: 75, UpdatedAt: t1.Add(time.Hour)}
	if got := readMetaRow(t, admin, cfg, "B1"); got != want {
		t.Errorf("row after a newer cover without colour or blurhash = %+v, want %+v (NULL colour and blurhash)", got, want)
	}
	catalogWantCounts(t, c, map[string]float64{"updated": 2, "stale": 1})
}

// TestCatalogWithoutOptionalColumns: the defaults name no optional column,
// so a catalog table without them is written as before, and UpdateStatus
// writes nothing.
func TestCatalogWithoutOptionalColumns(t *testing.T) {
	t.Parallel()
	cfg, admin := catalogTable(t, DefaultCatalogConfig(), "B1")
	c := newTestCatalog(t, cfg)
	u := CatalogUpdate{BookID: "B1", StorageURL: "s3://b/originals/B1/aaaaaaaaaaaa", Version: "aaaaaaaaaaaa",
		VersionTime: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), Width: 1600, Height: 2400, DominantColor: "#ffffff", BlurHash: "x"}
	if err := c.Update(t.Context(), u); err != nil {
		t.Fatalf("Update on a table without the optional columns = %v", err)
	}
	catalogWantRow(t, admin, cfg, u)
	if err := c.UpdateStatus(t.Context(), "B1", "missing", u.VersionTime.Add(time.Hour)); err != nil {
		t.Fatalf("UpdateStatus without a status column = %v, want nil", err)
	}
	catalogWantRow(t, admin, cfg, u)
	catalogWantCounts(t, c, map[string]float64{"updated": 1})
}

// TestCatalogCoverStatus: a status is written only to a row without a
// cover, and moves forward like covers; a cover, of any time, replaces a
// status-only row; once the row has a cover, no status or older cover
// moves it.
func TestCatalogCoverStatus(t *testing.T) {
	t.Parallel()
	cfg, admin := metaCatalogTable(t, metaCatalogConfig(), "B1")
	c := newTestCatalog(t, cfg)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	cover1 := CatalogUpdate{BookID: "B1", StorageURL: "s3://b/originals/B1/aaaaaaaaaaaa", Version: "aaaaaaaaaaaa", VersionTime: at(1), Width: 400, Height: 600}
	steps := []struct {
		name  string
		apply func() error
		want  metaRow
	}{
		{"placeholder at 2h", func() error { return c.UpdateStatus(t.Context(), "B1", "placeholder", at(2)) },
			metaRow{Status: "placeholder", UpdatedAt: at(2)}},
		{"missing at 1h (older)", func() error { return c.UpdateStatus(t.Context(), "B1", "missing", at(1)) },
			metaRow{Status: "placeholder", UpdatedAt: at(2)}},
		{"missing at 3h", func() error { return c.UpdateStatus(t.Context(), "B1", "missing", at(3)) },
			metaRow{Status: "missing", UpdatedAt: at(3)}},
		{"a cover of 1h (older than the status, but the row has no cover)", func() error { return c.Update(t.Context(), cover1) },
			metaRow{Version: "aaaaaaaaaaaa", Status: "ok", Width: 400, Height: 600, UpdatedAt: at(1)}},
		{"placeholder at 9h (the row has a cover)", func() error { return c.UpdateStatus(t.Context(), "B1", "placeholder", at(9)) },
			metaRow{Version: "aaaaaaaaaaaa", Status: "ok", Width: 400, Height: 600, UpdatedAt: at(1)}},
		{"a cover of 0h (older than the row's)", func() error {
			return c.Update(t.Context(), CatalogUpdate{BookID: "B1", StorageURL: "s3://b/x", Version: "000000000000", VersionTime: at(0)})
		}, metaRow{Version: "aaaaaaaaaaaa", Status: "ok", Width: 400, Height: 600, UpdatedAt: at(1)}},
	}
	for _, s := range steps {
		if err := s.apply(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := readMetaRow(t, admin, cfg, "B1"); got != s.want {
			t.Fatalf("after %s: row = %+v, want %+v", s.name, got, s.want)
		}
	}
	catalogWantCounts(t, c, map[string]float64{"updated": 3, "stale": 3})
	if err := c.UpdateStatus(t.Context(), "NOPE", "missing", at(1)); err == nil {
		t.Errorf("UpdateStatus of a book without a row = nil, want ErrCatalogNoRow")
	}
}

// qualityOrigin serves a cover, a 1x1 GIF and a 404 on loopback.
func qualityOrigin(t *testing.T) *httptest.Server {
	t.Helper()
	photo, err := os.ReadFile(testPhoto)
	if err != nil {
		t.Fatal(err)
	}
	gif := hostile.TransparentGIF1x1()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cover.jpg":
			_, _ = w.Write(photo)
		case "/none.gif":
			_, _ = w.Write(gif)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestConsumeRefusalsReachTheCatalogAndResults: through Kafka, the result
// topic and the catalog (real PostgreSQL, every optional column): a
// placeholder for a book without a cover is committed (not dead-lettered),
// published as failed with placeholder_image and its reason, and marks the
// row placeholder; a placeholder for a book with a cover leaves its row and
// says no status; a 404 for a book without a cover is dead-lettered as
// before and marks the row missing.
func TestConsumeRefusalsReachTheCatalogAndResults(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, testTopic, testDLQ, testResult))
	cfg := testConfig(c)
	cfg.MaxAttempts = 1
	catCfg, admin := metaCatalogTable(t, metaCatalogConfig(), "NEW", "HAS", "GONE")
	catalog := newTestCatalog(t, catCfg)
	srv := qualityOrigin(t)
	store, err := cache.NewLocalStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	warm := newWarmer(t, srv.Listener.Addr().String(), store)
	rules, err := ingest.NewPlaceholderRules(ingest.DefaultPlaceholderConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	warm.RefusePlaceholders(rules)
	cl, adm := newClient(t, c)
	results := NewResults(cl, cfg)
	notifier := NewNotifier(results, catalog, cfg.Bucket, discard)

	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	rec := func(book, path string, at time.Time) *kgo.Record {
		r := event(book, srv.URL+path)
		r.Timestamp = at
		return r
	}
	produce(t, cl, rec("NEW", "/none.gif", t0), rec("HAS", "/cover.jpg", t0), rec("HAS", "/none.gif", t0.Add(time.Hour)), rec("GONE", "/gone.jpg", t0))
	r := startConsumer(t, cfg, warm, notifier)
	waitFor(t, 15*time.Second, "4 offsets committed", func() bool { return committed(t, adm, cfg.GroupID, testTopic, 0) == 4 })

	if got, want := [4]uint64{r.m.succeeded.Get(), r.m.refused.Get(), r.m.deadLettered.Get(), r.m.failed.Get()}, [4]uint64{1, 2, 1, 0}; got != want {
		t.Errorf("events_total succeeded, refused, dead_lettered, failed = %v; want %v", got, want)
	}
	dlq := readTopic(t, c, testDLQ)
	if len(dlq) != 1 || string(dlq[0].Key) != "GONE" || header(t, dlq[0], "error_code") != "source_rejected" {
		t.Fatalf("DLQ = %d records (first key %q); want GONE's 404 only, as source_rejected", len(dlq), keyOf(dlq))
	}
	type errBody struct{ Code, Message, Reason string }
	type result struct {
		BookID        string   `json:"book_id"`
		State         string   `json:"state"`
		JobID         *string  `json:"job_id"`
		Error         *errBody `json:"error"`
		CoverStatus   *string  `json:"cover_status"`
		Width, Height int
	}
	got := map[string][]result{}
	for _, rec := range readTopic(t, c, testResult) {
		var res result
		if err := json.Unmarshal(rec.Value, &res); err != nil {
			t.Fatalf("result %s: %v", rec.Value, err)
		}
		got[res.BookID] = append(got[res.BookID], res)
	}
	str := func(s string) *string { return &s }
	placeholderErr := &errBody{"placeholder_image", cover.CodePlaceholderImage.Message(), "tiny"}
	want := map[string][]result{
		"NEW":  {{BookID: "NEW", State: "failed", Error: placeholderErr, CoverStatus: str("placeholder")}},
		"HAS":  {{BookID: "HAS", State: "succeeded", CoverStatus: str("ok"), Width: 1600, Height: 2400}, {BookID: "HAS", State: "failed", Error: placeholderErr}},
		"GONE": {{BookID: "GONE", State: "failed", Error: &errBody{"source_rejected", cover.CodeSourceRejected.Message(), ""}, CoverStatus: str("missing")}},
	}
	for book, w := range want {
		if deref(got[book]) != deref(w) {
			t.Errorf("result events of %s = %v; want %v", book, deref(got[book]), deref(w))
		}
	}

	photo, _ := os.ReadFile(testPhoto)
	rows := map[string]metaRow{
		"NEW":  {Status: "placeholder", UpdatedAt: t0},
		"HAS":  {Version: ingest.Version(photo), Status: "ok", Width: 1600, Height: 2400, UpdatedAt: t0},
		"GONE": {Status: "missing", UpdatedAt: t0},
	}
	for book, w := range rows {
		if got := readMetaRow(t, admin, catCfg, book); got != w {
			t.Errorf("catalog row %s = %+v; want %+v", book, got, w)
		}
	}
}

// deref renders results with their pointers followed, for comparing.
func deref[T any](rs []T) string {
	b, _ := json.Marshal(rs)
	return string(b)
}
