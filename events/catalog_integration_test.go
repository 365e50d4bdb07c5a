package events

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/internal/testenv"
	"github.com/jackc/pgx/v5"
)

// catalogRow is one row as read back from PostgreSQL.
type catalogRow struct {
	URL, Version *string
	UpdatedAt    *time.Time
}

var catalogTableSeq atomic.Int64

// catalogTable creates a fresh catalog table with cfg's names (the table name
// gets a unique suffix), inserts rows for bookIDs with NULL cover columns, and
// returns cfg pointing at it plus an admin connection for reading back.
func catalogTable(t *testing.T, cfg CatalogConfig, bookIDs ...string) (CatalogConfig, *pgx.Conn) {
	t.Helper()
	dsn := testenv.Postgres(t)
	admin, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect to test PostgreSQL: %v", err)
	}
	t.Cleanup(func() { admin.Close(t.Context()) })

	cfg.DatabaseURL = dsn
	cfg.Table = fmt.Sprintf("%s_%d_%d", cfg.Table, time.Now().UnixNano()%1e9, catalogTableSeq.Add(1))
	table, err := cfg.tableIdentifier()
	if err != nil {
		t.Fatalf("table %q: %v", cfg.Table, err)
	}
	if len(table) == 2 {
		if _, err := admin.Exec(t.Context(), "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{table[0]}.Sanitize()); err != nil {
			t.Fatalf("create schema: %v", err)
		}
	}
	q := func(s string) string { return pgx.Identifier{s}.Sanitize() }
	ddl := fmt.Sprintf(`CREATE TABLE %s (%s text PRIMARY KEY, title text, %s text, %s text, %s timestamptz)`,
		table.Sanitize(), q(cfg.BookIDColumn), q(cfg.URLColumn), q(cfg.VersionColumn), q(cfg.UpdatedAtColumn))
	if _, err := admin.Exec(t.Context(), ddl); err != nil {
		t.Fatalf("%s: %v", ddl, err)
	}
	t.Cleanup(func() { admin.Exec(t.Context(), "DROP TABLE IF EXISTS "+table.Sanitize()) })
	for _, id := range bookIDs {
		ins := fmt.Sprintf(`INSERT INTO %s (%s, title) VALUES ($1, $2)`, table.Sanitize(), q(cfg.BookIDColumn))
		if _, err := admin.Exec(t.Context(), ins, id, "title of "+id); err != nil {
			t.Fatalf("insert %s: %v", id, err)
		}
	}
	return cfg, admin
}

// catalogReadRow reads a book's cover columns; ok is false when there is no row.
func catalogReadRow(t *testing.T, admin *pgx.Conn, cfg CatalogConfig, bookID string) (row catalogRow, ok bool) {
	t.Helper()
	table, _ := cfg.tableIdentifier()
	q := func(s string) string { return pgx.Identifier{s}.Sanitize() }
	sql := fmt.Sprintf(`SELECT %s, %s, %s FROM %s WHERE %s = $1`,
		q(cfg.URLColumn), q(cfg.VersionColumn), q(cfg.UpdatedAtColumn), table.Sanitize(), q(cfg.BookIDColumn))
	err := admin.QueryRow(t.Context(), sql, bookID).Scan(&row.URL, &row.Version, &row.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return row, false
	}
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return row, true
}

// catalogWantRow fails unless the book's row holds exactly u's cover.
func catalogWantRow(t *testing.T, admin *pgx.Conn, cfg CatalogConfig, u CatalogUpdate) {
	t.Helper()
	row, ok := catalogReadRow(t, admin, cfg, u.BookID)
	if !ok {
		t.Fatalf("row %q missing", u.BookID)
	}
	if row.URL == nil || *row.URL != u.StorageURL || row.Version == nil || *row.Version != u.Version ||
		row.UpdatedAt == nil || !row.UpdatedAt.Equal(u.VersionTime.Truncate(time.Microsecond)) {
		t.Fatalf("row %q = {%v %v %v}, want {%s %s %s}", u.BookID, catalogDeref(row.URL), catalogDeref(row.Version), catalogDeref(row.UpdatedAt),
			u.StorageURL, u.Version, u.VersionTime.Format(time.RFC3339Nano))
	}
}

func catalogDeref[T any](p *T) any {
	if p == nil {
		return "NULL"
	}
	return *p
}

func newTestCatalog(t *testing.T, cfg CatalogConfig) *Catalog {
	t.Helper()
	c, err := NewCatalog(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("NewCatalog() = %v", err)
	}
	t.Cleanup(c.Close)
	if err := c.Ping(t.Context()); err != nil {
		t.Fatalf("Ping() = %v", err)
	}
	return c
}

// catalogWantCounts checks covers_catalog_updates_total per result.
func catalogWantCounts(t *testing.T, c *Catalog, want map[string]float64) {
	t.Helper()
	for _, result := range []string{"updated", "stale", "no_row", "error"} {
		name := fmt.Sprintf(`covers_catalog_updates_total{result=%q}`, result)
		if got := catalogMetric(t, c.Metrics(), name); got != want[result] {
			t.Errorf("%s = %v, want %v", name, got, want[result])
		}
	}
}

func catalogCover(bookID, version string, at time.Time) CatalogUpdate {
	return CatalogUpdate{BookID: bookID, StorageURL: "s3://covers/originals/" + bookID + "/" + version, Version: version, VersionTime: at}
}

func TestCatalogIntegrationUpdate(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	tests := []struct {
		name    string
		updates []CatalogUpdate
		want    CatalogUpdate // the row afterwards
		counts  map[string]float64
	}{
		{
			name:    "write-back sets url, version and time",
			updates: []CatalogUpdate{catalogCover("b1", "v1", t0)},
			want:    catalogCover("b1", "v1", t0),
			counts:  map[string]float64{"updated": 1},
		},
		{
			// Before versions only moved forward this was 2 updates ("<=").
			name:    "same update twice is idempotent",
			updates: []CatalogUpdate{catalogCover("b1", "v1", t0), catalogCover("b1", "v1", t0)},
			want:    catalogCover("b1", "v1", t0),
			counts:  map[string]float64{"updated": 1, "stale": 1},
		},
		{
			name:    "same version time, other cover: the first stays",
			updates: []CatalogUpdate{catalogCover("b1", "v1", t0), catalogCover("b1", "v2", t0)},
			want:    catalogCover("b1", "v1", t0),
			counts:  map[string]float64{"updated": 1, "stale": 1},
		},
		{
			name:    "same instant in another zone is equal",
			updates: []CatalogUpdate{catalogCover("b1", "v1", t0), catalogCover("b1", "v2", t0.UTC())},
			want:    catalogCover("b1", "v1", t0),
			counts:  map[string]float64{"updated": 1, "stale": 1},
		},
		{
			name:    "one microsecond newer is newer",
			updates: []CatalogUpdate{catalogCover("b1", "v1", t0), catalogCover("b1", "v2", t0.Add(time.Microsecond))},
			want:    catalogCover("b1", "v2", t0.Add(time.Microsecond)),
			counts:  map[string]float64{"updated": 2},
		},
		{
			name:    "newer update replaces",
			updates: []CatalogUpdate{catalogCover("b1", "v1", t0), catalogCover("b1", "v2", t0.Add(time.Second))},
			want:    catalogCover("b1", "v2", t0.Add(time.Second)),
			counts:  map[string]float64{"updated": 2},
		},
		{
			name:    "older update never moves the book back",
			updates: []CatalogUpdate{catalogCover("b1", "v2", t0.Add(time.Second)), catalogCover("b1", "v1", t0)},
			want:    catalogCover("b1", "v2", t0.Add(time.Second)),
			counts:  map[string]float64{"updated": 1, "stale": 1},
		},
		{
			name:    "one microsecond older is older",
			updates: []CatalogUpdate{catalogCover("b1", "v2", t0), catalogCover("b1", "v1", t0.Add(-time.Microsecond))},
			want:    catalogCover("b1", "v2", t0),
			counts:  map[string]float64{"updated": 1, "stale": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, admin := catalogTable(t, DefaultCatalogConfig(), "b1", "b2")
			c := newTestCatalog(t, cfg)
			for _, u := range tt.updates {
				if err := c.Update(t.Context(), u); err != nil {
					t.Fatalf("Update(%s %s) = %v, want nil", u.Version, u.VersionTime, err)
				}
			}
			catalogWantRow(t, admin, cfg, tt.want)
			if row, _ := catalogReadRow(t, admin, cfg, "b2"); row.URL != nil || row.Version != nil || row.UpdatedAt != nil {
				t.Errorf("row b2 = {%v %v %v}, want it untouched (NULLs)", catalogDeref(row.URL), catalogDeref(row.Version), catalogDeref(row.UpdatedAt))
			}
			catalogWantCounts(t, c, tt.counts)
			if got := catalogMetric(t, c.Metrics(), "covers_catalog_update_duration_seconds_count"); got != float64(len(tt.updates)) {
				t.Errorf("covers_catalog_update_duration_seconds_count = %v, want %d", got, len(tt.updates))
			}
		})
	}
}

// TestCatalogIntegrationNoRow: a book without a row, including book ids that
// try SQL injection, is ErrCatalogNoRow; nothing is inserted or changed.
func TestCatalogIntegrationNoRow(t *testing.T) {
	t.Parallel()
	cfg, admin := catalogTable(t, DefaultCatalogConfig(), "b1")
	c := newTestCatalog(t, cfg)
	table, _ := cfg.tableIdentifier()
	ids := []string{
		"missing",
		"b1' OR '1'='1",
		"b1'; DROP TABLE " + table.Sanitize() + "; --",
		`b1"; UPDATE catalog SET cover_version = 'pwned'; --`,
	}
	for _, id := range ids {
		err := c.Update(t.Context(), catalogCover(id, "v1", time.Now()))
		if !errors.Is(err, ErrCatalogNoRow) {
			t.Errorf("Update(book %q) = %v, want ErrCatalogNoRow", id, err)
		}
		if errors.Is(err, ErrCatalogUnavailable) {
			t.Errorf("Update(book %q) = %v, must not be retryable", id, err)
		}
	}
	var n int
	if err := admin.QueryRow(t.Context(), "SELECT count(*) FROM "+table.Sanitize()).Scan(&n); err != nil {
		t.Fatalf("count rows after injection attempts: %v (table gone?)", err)
	}
	if n != 1 {
		t.Errorf("table has %d rows, want 1", n)
	}
	if row, _ := catalogReadRow(t, admin, cfg, "b1"); row.URL != nil || row.Version != nil || row.UpdatedAt != nil {
		t.Errorf("row b1 = {%v %v %v}, want it untouched", catalogDeref(row.URL), catalogDeref(row.Version), catalogDeref(row.UpdatedAt))
	}
	catalogWantCounts(t, c, map[string]float64{"no_row": float64(len(ids))})
}

// TestCatalogIntegrationOddIdentifiers: schema-qualified, mixed-case and
// reserved-word identifiers work because they are quoted.
func TestCatalogIntegrationOddIdentifiers(t *testing.T) {
	t.Parallel()
	cfg := DefaultCatalogConfig()
	cfg.Table, cfg.BookIDColumn, cfg.URLColumn, cfg.VersionColumn, cfg.UpdatedAtColumn =
		"Covers_Test.Select", "user", "Order", "group", "_Limit"
	cfg, admin := catalogTable(t, cfg, "b1")
	c := newTestCatalog(t, cfg)
	t0 := time.Now()
	for _, u := range []CatalogUpdate{catalogCover("b1", "v2", t0), catalogCover("b1", "v1", t0.Add(-time.Hour))} {
		if err := c.Update(t.Context(), u); err != nil {
			t.Fatalf("Update(%s) = %v", u.Version, err)
		}
	}
	catalogWantRow(t, admin, cfg, catalogCover("b1", "v2", t0))
	catalogWantCounts(t, c, map[string]float64{"updated": 1, "stale": 1})
}

// TestCatalogIntegrationSchemaErrors: a configured column that does not exist
// is a plain error, neither retryable nor a missing row.
func TestCatalogIntegrationSchemaErrors(t *testing.T) {
	t.Parallel()
	cfg, _ := catalogTable(t, DefaultCatalogConfig(), "b1")
	missingColumn := cfg
	missingColumn.VersionColumn = "no_such_column"
	missingTable := cfg
	missingTable.Table = "no_such_table_anywhere"
	for name, cfg := range map[string]CatalogConfig{"missing column": missingColumn, "missing table": missingTable} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newTestCatalog(t, cfg)
			err := c.Update(t.Context(), catalogCover("b1", "v1", time.Now()))
			if err == nil || errors.Is(err, ErrCatalogUnavailable) || errors.Is(err, ErrCatalogNoRow) {
				t.Fatalf("Update() = %v, want a plain database error", err)
			}
			catalogWantCounts(t, c, map[string]float64{"error": 1})
		})
	}
}

// TestCatalogIntegrationConcurrent: racing updates of one book leave the
// newest cover, whatever order they commit in.
func TestCatalogIntegrationConcurrent(t *testing.T) {
	t.Parallel()
	cfg, admin := catalogTable(t, DefaultCatalogConfig(), "b1")
	c := newTestCatalog(t, cfg)
	t0 := time.Now()
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			// Interleave old and new so that newer ones often commit first.
			v := (i * 7) % n
			errs <- c.Update(t.Context(), catalogCover("b1", fmt.Sprintf("v%02d", v), t0.Add(time.Duration(v)*time.Millisecond)))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Update() = %v", err)
		}
	}
	catalogWantRow(t, admin, cfg, catalogCover("b1", fmt.Sprintf("v%02d", n-1), t0.Add((n-1)*time.Millisecond)))
	updated := catalogMetric(t, c.Metrics(), `covers_catalog_updates_total{result="updated"}`)
	stale := catalogMetric(t, c.Metrics(), `covers_catalog_updates_total{result="stale"}`)
	if updated+stale != n || updated < 1 {
		t.Errorf("updated %v + stale %v, want %d in all and at least one update", updated, stale, n)
	}
}
