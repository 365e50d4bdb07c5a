package events

// For events/doc.go (catalog write-back):
//
// Catalog writes a stored cover back to the book catalog in PostgreSQL
// (CATALOG_DATABASE_URL; empty turns it off): one UPDATE of CATALOG_TABLE
// setting the storage URL, version and updated-at columns, and the
// metadata and status columns that are named (width, height, dominant
// colour, blurhash, cover_status 'ok'), where the book id matches and the
// stored updated-at (the cover's version time) is NULL or older, so a
// redelivered event is a successful no-op and an older event never moves a
// book back. With a status column, UpdateStatus writes missing or
// placeholder to a row that holds no cover, ordered the same way, and a row
// without a cover takes any cover.
// Identifiers are validated and quoted, values are always parameters. A book
// without a row is ErrCatalogNoRow (counted and logged, not retried);
// connection failures and timeouts are ErrCatalogUnavailable (retryable).
// The pool is small and connects lazily: NewCatalog never dials, Ping does.
// pgx itself also honours the libpq PG* environment variables.
//
// Metrics: covers_catalog_updates_total{result="updated|stale|no_row|error"},
// covers_catalog_update_duration_seconds.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

var (
	// ErrCatalogNoRow reports a book without a catalog row: callers count and
	// log it and do not retry it.
	ErrCatalogNoRow = errors.New("catalog: no such book")
	// ErrCatalogUnavailable reports that the catalog database could not be
	// reached in time (connection refused or lost, timeout, server shutting
	// down, too many connections): retryable.
	ErrCatalogUnavailable = errors.New("catalog: unavailable")
	// ErrCatalogInvalidUpdate reports an update without a book id or time.
	ErrCatalogInvalidUpdate = errors.New("catalog: invalid update")
)

// CatalogUpdate is one cover to write back.
type CatalogUpdate struct {
	BookID     string
	StorageURL string // s3://bucket/key of the stored original
	Version    string // content version of the original
	// VersionTime orders a book's covers (cover.Manifest.Order, microsecond
	// precision): stored in CATALOG_UPDATED_AT_COLUMN, and only a later one
	// replaces the row's cover.
	VersionTime time.Time
	// The cover's metadata, written to the columns that are named (zero or
	// empty values as NULL: a manifest written before they were computed
	// has no colour or blurhash).
	Width, Height int
	DominantColor string
	BlurHash      string
}

// values are the update's parameters for the optional columns stmts sets,
// in their order.
func (u CatalogUpdate) values(meta []int) []any {
	all := [...]any{nullIfZero(u.Width), nullIfZero(u.Height), nullIfZero(u.DominantColor), nullIfZero(u.BlurHash), "ok"}
	out := make([]any, 0, len(meta))
	for _, i := range meta {
		out = append(out, all[i])
	}
	return out
}

// nullIfZero is v, or nil (SQL NULL) for its zero value.
func nullIfZero[T comparable](v T) any {
	var zero T
	if v == zero {
		return nil
	}
	return v
}

// Catalog writes covers back to the catalog table. It is safe for concurrent use.
type Catalog struct {
	pool    *pgxpool.Pool
	stmts   catalogStatements
	timeout time.Duration
	log     *slog.Logger

	set      *metrics.Set
	updated  *metrics.Counter
	stale    *metrics.Counter
	noRow    *metrics.Counter
	failed   *metrics.Counter
	duration *metrics.PrometheusHistogram
}

// NewCatalog validates cfg and builds a small connection pool. It does not
// connect: a database that is briefly down at start-up must not stop the
// service, so the first Update connects, and cmd calls Ping to report
// readiness. A disabled config (empty DatabaseURL) is an error: callers check
// cfg.Enabled first.
func NewCatalog(ctx context.Context, cfg CatalogConfig, logger *slog.Logger) (*Catalog, error) {
	if !cfg.Enabled() {
		return nil, errors.New("new catalog: CATALOG_DATABASE_URL is empty (write-back off)")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new catalog: %w", err)
	}
	pc, err := cfg.poolConfig()
	if err != nil {
		return nil, fmt.Errorf("new catalog: %w", err)
	}
	stmts, err := cfg.statements()
	if err != nil {
		return nil, fmt.Errorf("new catalog: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("new catalog: pool: %w", err)
	}
	set := metrics.NewSet()
	return &Catalog{
		pool: pool, stmts: stmts, timeout: cfg.Timeout, log: logger,
		set:      set,
		updated:  set.NewCounter(`covers_catalog_updates_total{result="updated"}`),
		stale:    set.NewCounter(`covers_catalog_updates_total{result="stale"}`),
		noRow:    set.NewCounter(`covers_catalog_updates_total{result="no_row"}`),
		failed:   set.NewCounter(`covers_catalog_updates_total{result="error"}`),
		duration: set.NewPrometheusHistogramExt(`covers_catalog_update_duration_seconds`, catalogBuckets),
	}, nil
}

// Update writes u to the book's row unless the row already holds a cover at
// least as new (its version time is not older than u's). Applying the same
// update again, or one as old or older than the row's, is a successful no-op
// (counted as stale), so the row only moves forward. With a status column,
// a row that holds no cover (a status only) takes u whatever its time.
// A book without a row is ErrCatalogNoRow; connection failures and timeouts
// (each Update is bounded by CatalogConfig.Timeout) wrap ErrCatalogUnavailable;
// any other database error (a missing column, a wrong type) is returned as is.
func (c *Catalog) Update(ctx context.Context, u CatalogUpdate) error {
	if u.BookID == "" || u.VersionTime.IsZero() {
		c.failed.Inc()
		return fmt.Errorf("catalog update: book id and version time are required: %w", ErrCatalogInvalidUpdate)
	}
	// PostgreSQL keeps microseconds; truncating here makes the stored value
	// and every later comparison use the same instant.
	at := u.VersionTime.UTC().Truncate(time.Microsecond)
	args := append([]any{u.BookID, u.StorageURL, u.Version, at}, u.values(c.stmts.meta)...)
	return c.exec(ctx, u.BookID, c.stmts.update, args, "version", u.Version)
}

// UpdateStatus writes a book's cover_status (missing or placeholder) at
// version time at, to a row that holds no cover and whose last write is
// older (the status writes of a book move forward like its covers); a row
// with a cover keeps it and its status. Without a status column it does
// nothing. Errors are Update's.
func (c *Catalog) UpdateStatus(ctx context.Context, bookID, status string, at time.Time) error {
	if c.stmts.status == "" {
		return nil
	}
	if bookID == "" || status == "" || at.IsZero() {
		c.failed.Inc()
		return fmt.Errorf("catalog status: book id, status and time are required: %w", ErrCatalogInvalidUpdate)
	}
	at = at.UTC().Truncate(time.Microsecond)
	return c.exec(ctx, bookID, c.stmts.status, []any{bookID, status, at}, "cover_status", status)
}

// exec runs one conditional UPDATE of a book's row within the catalog's
// timeout; when it changes nothing it tells a row that holds something
// newer (stale, counted, nil) from no row (ErrCatalogNoRow). what and value
// name the write in logs.
func (c *Catalog) exec(ctx context.Context, bookID, stmt string, args []any, what, value string) error {
	start := time.Now()
	defer c.duration.UpdateDuration(start)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	tag, err := c.pool.Exec(ctx, stmt, args...)
	if err != nil {
		return c.fail(bookID, "update", err)
	}
	if tag.RowsAffected() > 0 {
		c.updated.Inc()
		return nil
	}
	// Nothing changed: either the row holds a cover at least as new (or,
	// for a status, any cover) or there is no row.
	var one int
	err = c.pool.QueryRow(ctx, c.stmts.exists, bookID).Scan(&one)
	switch {
	case err == nil:
		c.stale.Inc()
		c.log.Debug("catalog: row holds a cover at least as new, update skipped", "book_id", bookID, what, value)
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		c.noRow.Inc()
		c.log.Warn("catalog: no catalog row for book", "book_id", bookID, what, value)
		return fmt.Errorf("catalog update: %w", ErrCatalogNoRow)
	default:
		return c.fail(bookID, "check row", err)
	}
}

// fail counts and logs a database error and classifies it.
func (c *Catalog) fail(bookID, op string, err error) error {
	c.failed.Inc()
	if catalogRetryable(err) {
		c.log.Warn("catalog: database unavailable", "book_id", bookID, "op", op, "error", err)
		return fmt.Errorf("catalog %s: %w: %w", op, ErrCatalogUnavailable, err)
	}
	c.log.Error("catalog: update failed", "book_id", bookID, "op", op, "error", err)
	return fmt.Errorf("catalog %s: %w", op, err)
}

// retryable reports whether err means the database could not be reached or
// served the statement in time, so the same update may succeed later. Server
// errors are classified by SQLSTATE first: a failed login (28xxx) or a
// missing database (3D000) arrives as a connect error but is configuration,
// not an outage.
func catalogRetryable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || pgconn.Timeout(err) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P01", "57P02", "57P03", // admin or crash shutdown, cannot connect now
			"57014",          // statement cancelled (statement_timeout)
			"40001", "40P01": // serialization failure, deadlock
			return true
		}
		return strings.HasPrefix(pgErr.Code, "08") || // connection exception
			strings.HasPrefix(pgErr.Code, "53") // insufficient resources, too many connections
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.SafeToRetry(err)
}

// Ping checks that the database answers within the configured timeout.
func (c *Catalog) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := c.pool.Ping(ctx); err != nil {
		if catalogRetryable(err) {
			return fmt.Errorf("catalog ping: %w: %w", ErrCatalogUnavailable, err)
		}
		return fmt.Errorf("catalog ping: %w", err)
	}
	return nil
}

// Metrics returns the catalog's metrics.
func (c *Catalog) Metrics() *metrics.Set { return c.set }

// Close closes the pool, waiting for connections in use to be returned.
func (c *Catalog) Close() { c.pool.Close() }

// catalogBuckets are the upper bounds, in seconds, of the catalog update
// histogram: one indexed UPDATE takes about a millisecond on a local
// PostgreSQL, CATALOG_TIMEOUT bounds it.
var catalogBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}
