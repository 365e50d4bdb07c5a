package events

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/jackc/pgx/v5/pgconn"
)

const catalogTestPassword = "s3cr3t-Pw0rd"

func TestCatalogConfigValidate(t *testing.T) {
	t.Parallel()
	with := func(edit func(*CatalogConfig)) CatalogConfig {
		c := DefaultCatalogConfig()
		c.DatabaseURL = "postgres://worker:" + catalogTestPassword + "@127.0.0.1:5432/books?sslmode=disable"
		edit(&c)
		return c
	}
	tests := []struct {
		name    string
		cfg     CatalogConfig
		wantErr []string // substrings of the error; nil = valid
	}{
		{"defaults, off", DefaultCatalogConfig(), nil},
		{"defaults, on", with(func(*CatalogConfig) {}), nil},
		{"key=value dsn", with(func(c *CatalogConfig) { c.DatabaseURL = "host=127.0.0.1 user=worker dbname=books" }), nil},
		{"schema-qualified table", with(func(c *CatalogConfig) { c.Table = "public.catalog" }), nil},
		{"mixed case and underscores", with(func(c *CatalogConfig) { c.Table = "_Books9.Catalog_V2"; c.URLColumn = "URL" }), nil},
		{"reserved words are fine quoted", with(func(c *CatalogConfig) { c.Table = "select"; c.BookIDColumn = "user"; c.URLColumn = "order" }), nil},
		{"63 chars", with(func(c *CatalogConfig) { c.Table = strings.Repeat("t", 63) }), nil},
		{"statement in table", with(func(c *CatalogConfig) { c.Table = "cat; drop" }), []string{"CATALOG_TABLE"}},
		{"quotes in table", with(func(c *CatalogConfig) { c.Table = `"x"` }), []string{"CATALOG_TABLE"}},
		{"64 chars", with(func(c *CatalogConfig) { c.Table = strings.Repeat("t", 64) }), []string{"CATALOG_TABLE"}},
		{"empty table", with(func(c *CatalogConfig) { c.Table = "" }), []string{"CATALOG_TABLE"}},
		{"three parts", with(func(c *CatalogConfig) { c.Table = "db.public.catalog" }), []string{"CATALOG_TABLE"}},
		{"empty schema", with(func(c *CatalogConfig) { c.Table = ".catalog" }), []string{"CATALOG_TABLE"}},
		{"leading digit", with(func(c *CatalogConfig) { c.Table = "1catalog" }), []string{"CATALOG_TABLE"}},
		{"non-ascii", with(func(c *CatalogConfig) { c.Table = "katalög" }), []string{"CATALOG_TABLE"}},
		{"dash in column", with(func(c *CatalogConfig) { c.URLColumn = "cover-url" }), []string{"CATALOG_URL_COLUMN"}},
		{"empty book id column", with(func(c *CatalogConfig) { c.BookIDColumn = "" }), []string{"CATALOG_BOOK_ID_COLUMN"}},
		{"comment in version column", with(func(c *CatalogConfig) { c.VersionColumn = "v--" }), []string{"CATALOG_VERSION_COLUMN"}},
		{"space in updated column", with(func(c *CatalogConfig) { c.UpdatedAtColumn = "updated at" }), []string{"CATALOG_UPDATED_AT_COLUMN"}},
		{"duplicate column", with(func(c *CatalogConfig) { c.VersionColumn = "cover_storage_url" }), []string{"CATALOG_VERSION_COLUMN", "CATALOG_URL_COLUMN"}},
		{"zero timeout", with(func(c *CatalogConfig) { c.Timeout = 0 }), []string{"CATALOG_TIMEOUT"}},
		{"every optional column", with(func(c *CatalogConfig) {
			c.WidthColumn, c.HeightColumn, c.DominantColorColumn, c.BlurHashColumn, c.StatusColumn = "w", "h", "colour", "hash", "status"
		}), nil},
		{"bad optional columns", with(func(c *CatalogConfig) {
			c.WidthColumn, c.DominantColorColumn, c.StatusColumn = "width px", "x;y", "cover_version"
		}), []string{"CATALOG_WIDTH_COLUMN", "CATALOG_DOMINANT_COLOR_COLUMN", "CATALOG_STATUS_COLUMN", "CATALOG_VERSION_COLUMN"}},
		{"two optional columns alike", with(func(c *CatalogConfig) { c.HeightColumn, c.BlurHashColumn = "h", "h" }),
			[]string{"CATALOG_BLURHASH_COLUMN", "CATALOG_HEIGHT_COLUMN"}},
		{"bad dsn", with(func(c *CatalogConfig) {
			c.DatabaseURL = "postgres://worker:" + catalogTestPassword + "@127.0.0.1:notaport/books"
		}), []string{"CATALOG_DATABASE_URL"}},
		{"every problem at once", with(func(c *CatalogConfig) {
			c.Table, c.BookIDColumn, c.Timeout = "a b", "", -time.Second
		}), []string{"CATALOG_TABLE", "CATALOG_BOOK_ID_COLUMN", "CATALOG_TIMEOUT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error naming %v", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %q, want it to name %s", err, want)
				}
			}
			if strings.Contains(err.Error(), catalogTestPassword) {
				t.Errorf("Validate() = %q leaks the password", err)
			}
		})
	}
}

func TestCatalogErrorsHidePassword(t *testing.T) {
	t.Parallel()
	dsns := map[string]string{
		"bad port":           "postgres://worker:" + catalogTestPassword + "@127.0.0.1:notaport/books",
		"bad url escape":     "postgres://worker:" + catalogTestPassword + "%zz@127.0.0.1:5432/books",
		"unterminated ipv6":  "postgres://worker:" + catalogTestPassword + "@[::1/books",
		"bad sslmode":        "postgres://worker:" + catalogTestPassword + "@127.0.0.1:5432/books?sslmode=sometimes",
		"kv bad port":        "host=127.0.0.1 password=" + catalogTestPassword + " port=abc",
		"kv quoted password": "host=127.0.0.1 password='" + catalogTestPassword + " x' port=abc",
		"kv unterminated":    "host=127.0.0.1 password='" + catalogTestPassword,
		// pgx's own parse errors mask these only partly:
		"kv escaped space":  `host=127.0.0.1 password=first\ ` + catalogTestPassword + ` port=abc`,
		"kv spaced equals":  "host=127.0.0.1 password = " + catalogTestPassword + " port=abc",
		"unescaped at sign": "postgres://worker:p@ss-" + catalogTestPassword + "@127.0.0.1:bad/books",
	}
	for name, dsn := range dsns {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultCatalogConfig()
			cfg.DatabaseURL = dsn
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), "CATALOG_DATABASE_URL") {
				t.Fatalf("Validate() = %v, want an error naming CATALOG_DATABASE_URL", err)
			}
			if strings.Contains(err.Error(), catalogTestPassword) {
				t.Errorf("Validate() = %q leaks the password", err)
			}
			c, err := NewCatalog(t.Context(), cfg, slog.New(slog.DiscardHandler))
			if err == nil {
				c.Close()
				t.Fatal("NewCatalog() = nil error, want the parse error")
			}
			if strings.Contains(err.Error(), catalogTestPassword) {
				t.Errorf("NewCatalog() = %q leaks the password", err)
			}
		})
	}
}

func TestCatalogStatements(t *testing.T) {
	t.Parallel()
	odd := DefaultCatalogConfig()
	odd.Table, odd.BookIDColumn, odd.URLColumn, odd.VersionColumn, odd.UpdatedAtColumn =
		"Books.select", "user", "Order", "group", "_at"
	meta := DefaultCatalogConfig()
	meta.WidthColumn, meta.DominantColorColumn, meta.StatusColumn = "cover_width", "cover_dominant_color", "cover_status"
	tests := []struct {
		name       string
		cfg        CatalogConfig
		wantUpdate string
		wantExists string
		wantStatus string
		wantMeta   []int
	}{
		{
			name:       "defaults",
			cfg:        DefaultCatalogConfig(),
			wantUpdate: `UPDATE "catalog" SET "cover_storage_url" = $2, "cover_version" = $3, "cover_updated_at" = $4 WHERE "book_id" = $1 AND ("cover_updated_at" IS NULL OR "cover_updated_at" < $4)`,
			wantExists: `SELECT 1 FROM "catalog" WHERE "book_id" = $1`,
		},
		{
			name:       "schema, reserved words, mixed case",
			cfg:        odd,
			wantUpdate: `UPDATE "Books"."select" SET "Order" = $2, "group" = $3, "_at" = $4 WHERE "user" = $1 AND ("_at" IS NULL OR "_at" < $4)`,
			wantExists: `SELECT 1 FROM "Books"."select" WHERE "user" = $1`,
		},
		{
			name: "metadata and status columns",
			cfg:  meta,
			wantUpdate: `UPDATE "catalog" SET "cover_storage_url" = $2, "cover_version" = $3, "cover_updated_at" = $4, ` +
				`"cover_width" = $5, "cover_dominant_color" = $6, "cover_status" = $7 WHERE "book_id" = $1 AND ` +
				`("cover_updated_at" IS NULL OR "cover_updated_at" < $4 OR "cover_version" IS NULL)`,
			wantExists: `SELECT 1 FROM "catalog" WHERE "book_id" = $1`,
			wantStatus: `UPDATE "catalog" SET "cover_status" = $2, "cover_updated_at" = $3 WHERE "book_id" = $1 AND ` +
				`"cover_version" IS NULL AND ("cover_updated_at" IS NULL OR "cover_updated_at" < $3)`,
			wantMeta: []int{0, 2, 4},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.cfg.statements()
			if err != nil {
				t.Fatalf("statements() error = %v", err)
			}
			if got.update != tt.wantUpdate {
				t.Errorf("update statement:\n got %s\nwant %s", got.update, tt.wantUpdate)
			}
			if got.exists != tt.wantExists {
				t.Errorf("exists statement:\n got %s\nwant %s", got.exists, tt.wantExists)
			}
			if got.status != tt.wantStatus || fmt.Sprint(got.meta) != fmt.Sprint(tt.wantMeta) {
				t.Errorf("status statement, optional columns:\n got %s %v\nwant %s %v", got.status, got.meta, tt.wantStatus, tt.wantMeta)
			}
		})
	}
	bad := DefaultCatalogConfig()
	bad.Table = `catalog"; DROP TABLE catalog; --`
	if s, err := bad.statements(); err == nil {
		t.Errorf("statements() with table %q = %+v, want an error", bad.Table, s)
	}
}

func TestNewCatalogDisabled(t *testing.T) {
	t.Parallel()
	cfg := DefaultCatalogConfig()
	if cfg.Enabled() {
		t.Fatal("DefaultCatalogConfig().Enabled() = true, want false")
	}
	if c, err := NewCatalog(t.Context(), cfg, slog.New(slog.DiscardHandler)); err == nil {
		c.Close()
		t.Fatal("NewCatalog(disabled) = nil error, want an error")
	}
	cfg.DatabaseURL = "postgres://postgres@127.0.0.1:1/postgres"
	if !cfg.Enabled() {
		t.Fatal("Enabled() with a DatabaseURL = false, want true")
	}
}

// catalogClosedAddr returns a loopback address nothing listens on.
func catalogClosedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// catalogSilentServer accepts connections on loopback and never answers.
func catalogSilentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestCatalogUnavailable: NewCatalog does not dial, and a database that is
// down or hangs makes Update and Ping fail with ErrCatalogUnavailable within
// the configured timeout.
func TestCatalogUnavailable(t *testing.T) {
	t.Parallel()
	const timeout = 400 * time.Millisecond
	tests := []struct {
		name string
		addr string
	}{
		{"connection refused", catalogClosedAddr(t)},
		{"server never answers", catalogSilentServer(t)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultCatalogConfig()
			cfg.DatabaseURL = "postgres://postgres@" + tt.addr + "/postgres?sslmode=disable&connect_timeout=30"
			cfg.Timeout = timeout
			c, err := NewCatalog(t.Context(), cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatalf("NewCatalog() with the database down = %v, want nil (it connects lazily)", err)
			}
			t.Cleanup(c.Close)

			start := time.Now()
			err = c.Update(t.Context(), CatalogUpdate{BookID: "b1", StorageURL: "s3://covers/originals/b1/v1", Version: "v1", VersionTime: time.Now()})
			elapsed := time.Since(start)
			if !errors.Is(err, ErrCatalogUnavailable) {
				t.Errorf("Update() = %v, want ErrCatalogUnavailable", err)
			}
			if errors.Is(err, ErrCatalogNoRow) {
				t.Errorf("Update() = %v, must not be ErrCatalogNoRow", err)
			}
			if elapsed > timeout+2*time.Second {
				t.Errorf("Update() took %v, want it bounded by the %v timeout", elapsed, timeout)
			}
			if got := catalogMetric(t, c.Metrics(), `covers_catalog_updates_total{result="error"}`); got != 1 {
				t.Errorf(`covers_catalog_updates_total{result="error"} = %v, want 1`, got)
			}
			if err := c.Ping(t.Context()); !errors.Is(err, ErrCatalogUnavailable) {
				t.Errorf("Ping() = %v, want ErrCatalogUnavailable", err)
			}
		})
	}
}

func TestCatalogUpdateInvalid(t *testing.T) {
	t.Parallel()
	cfg := DefaultCatalogConfig()
	cfg.DatabaseURL = "postgres://postgres@" + catalogClosedAddr(t) + "/postgres?sslmode=disable"
	c, err := NewCatalog(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	tests := []struct {
		name string
		u    CatalogUpdate
	}{
		{"no book id", CatalogUpdate{StorageURL: "s3://b/k", Version: "v1", VersionTime: time.Now()}},
		{"no time", CatalogUpdate{BookID: "b1", StorageURL: "s3://b/k", Version: "v1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := c.Update(t.Context(), tt.u); !errors.Is(err, ErrCatalogInvalidUpdate) {
				t.Errorf("Update(%+v) = %v, want ErrCatalogInvalidUpdate", tt.u, err)
			}
		})
	}
}

func TestCatalogRetryable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"deadline", fmt.Errorf("exec: %w", context.DeadlineExceeded), true},
		{"cancelled", context.Canceled, true},
		{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}, true},
		{"eof", fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"statement timeout", &pgconn.PgError{Code: "57014"}, true},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, true},
		{"undefined column", &pgconn.PgError{Code: "42703"}, false},
		{"undefined table", &pgconn.PgError{Code: "42P01"}, false},
		{"wrong password", &pgconn.PgError{Code: "28P01"}, false},
		{"no such database", &pgconn.PgError{Code: "3D000"}, false},
		{"plain", errors.New("closed pool"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := catalogRetryable(tt.err); got != tt.want {
				t.Errorf("catalogRetryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// catalogMetric reads one sample from set's Prometheus text; a missing sample
// fails the test.
func catalogMetric(t *testing.T, set *metrics.Set, name string) float64 {
	t.Helper()
	var buf bytes.Buffer
	set.WritePrometheus(&buf)
	for line := range strings.Lines(buf.String()) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: value %q: %v", name, v, err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not exported; got:\n%s", name, buf.String())
	return 0
}
