package events

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// CatalogConfig configures the catalog write-back. An empty DatabaseURL turns
// it off.
type CatalogConfig struct {
	DatabaseURL string // CATALOG_DATABASE_URL; "" = off. Never logged or echoed in errors.
	// Table is CATALOG_TABLE, default "catalog"; may be schema-qualified
	// ("public.catalog"). Identifiers are quoted, so they are case-sensitive:
	// "Catalog" names a different table than "catalog".
	Table           string
	BookIDColumn    string        // CATALOG_BOOK_ID_COLUMN, default book_id
	URLColumn       string        // CATALOG_URL_COLUMN, default cover_storage_url
	VersionColumn   string        // CATALOG_VERSION_COLUMN, default cover_version
	UpdatedAtColumn string        // CATALOG_UPDATED_AT_COLUMN, default cover_updated_at (timestamptz): the cover's version time
	Timeout         time.Duration // CATALOG_TIMEOUT: budget of one Update or Ping, connecting included; default 5s
}

// DefaultCatalogConfig returns the defaults, with the write-back off.
func DefaultCatalogConfig() CatalogConfig {
	return CatalogConfig{
		Table:           "catalog",
		BookIDColumn:    "book_id",
		URLColumn:       "cover_storage_url",
		VersionColumn:   "cover_version",
		UpdatedAtColumn: "cover_updated_at",
		Timeout:         5 * time.Second,
	}
}

// Enabled reports whether the write-back is on.
func (c CatalogConfig) Enabled() bool { return c.DatabaseURL != "" }

// catalogIdentifierRE is one unquoted-style PostgreSQL identifier of at most 63 bytes
// (NAMEDATALEN-1). Anything else is refused rather than escaped.
var catalogIdentifierRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// Validate names every problem, by environment variable. It checks the
// identifiers even when the write-back is off, and never echoes DatabaseURL.
func (c CatalogConfig) Validate() error {
	var errs []error
	if _, err := c.tableIdentifier(); err != nil {
		errs = append(errs, err)
	}
	columns := []struct{ env, value string }{
		{"CATALOG_BOOK_ID_COLUMN", c.BookIDColumn},
		{"CATALOG_URL_COLUMN", c.URLColumn},
		{"CATALOG_VERSION_COLUMN", c.VersionColumn},
		{"CATALOG_UPDATED_AT_COLUMN", c.UpdatedAtColumn},
	}
	seen := map[string]string{}
	for _, col := range columns {
		if !catalogIdentifierRE.MatchString(col.value) {
			errs = append(errs, fmt.Errorf("%s=%q: must match %s", col.env, col.value, catalogIdentifierRE))
			continue
		}
		if other, dup := seen[col.value]; dup {
			errs = append(errs, fmt.Errorf("%s=%q: same column as %s", col.env, col.value, other))
		}
		seen[col.value] = col.env
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("CATALOG_TIMEOUT=%s: must be positive", c.Timeout))
	}
	if c.Enabled() {
		if _, err := c.poolConfig(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// tableIdentifier splits Table into at most schema and table and checks each
// part.
func (c CatalogConfig) tableIdentifier() (pgx.Identifier, error) {
	parts := strings.Split(c.Table, ".")
	if len(parts) > 2 {
		return nil, fmt.Errorf("CATALOG_TABLE=%q: at most schema.table", c.Table)
	}
	for _, p := range parts {
		if !catalogIdentifierRE.MatchString(p) {
			return nil, fmt.Errorf("CATALOG_TABLE=%q: each dot-separated part must match %s", c.Table, catalogIdentifierRE)
		}
	}
	return pgx.Identifier(parts), nil
}

// errCatalogDSN is the whole message for an unparsable DatabaseURL: pgx's own
// parse error masks passwords only on a best-effort basis, so nothing of the
// string is repeated.
var errCatalogDSN = errors.New("CATALOG_DATABASE_URL: not a valid PostgreSQL connection string " +
	"(want postgres://user:password@host:port/dbname?sslmode=...; value not shown)")

// catalogMaxConns bounds the pool: one Update holds one connection briefly.
const catalogMaxConns = 4

// poolConfig parses DatabaseURL into a small pool that connects lazily.
func (c CatalogConfig) poolConfig() (*pgxpool.Config, error) {
	pc, err := pgxpool.ParseConfig(c.DatabaseURL)
	if err != nil {
		return nil, errCatalogDSN
	}
	if !strings.Contains(c.DatabaseURL, "pool_max_conns") {
		pc.MaxConns = catalogMaxConns
	}
	pc.MinConns = 0 // lazy: NewCatalog never dials
	pc.MaxConnIdleTime = 5 * time.Minute
	if pc.ConnConfig.ConnectTimeout == 0 || pc.ConnConfig.ConnectTimeout > c.Timeout {
		pc.ConnConfig.ConnectTimeout = c.Timeout
	}
	if _, ok := pc.ConnConfig.RuntimeParams["application_name"]; !ok {
		pc.ConnConfig.RuntimeParams["application_name"] = "image-worker"
	}
	return pc, nil
}

// catalogStatements are the two statements of one Update, built once from
// validated, quoted identifiers; values are always parameters.
type catalogStatements struct {
	update string // $1 book id, $2 storage URL, $3 version, $4 version time
	exists string // $1 book id
}

func (c CatalogConfig) statements() (catalogStatements, error) {
	table, err := c.tableIdentifier()
	if err != nil {
		return catalogStatements{}, err
	}
	q := func(name string) string { return pgx.Identifier{name}.Sanitize() }
	t, id, updated := table.Sanitize(), q(c.BookIDColumn), q(c.UpdatedAtColumn)
	// "IS NULL" lets the first cover in; "<" moves the row only forward: a
	// repeated update, one of the same version time (the cover that got
	// there first stays, as in the manifest) and an older one change nothing.
	return catalogStatements{
		update: fmt.Sprintf(`UPDATE %s SET %s = $2, %s = $3, %s = $4 WHERE %s = $1 AND (%s IS NULL OR %s < $4)`,
			t, q(c.URLColumn), q(c.VersionColumn), updated, id, updated, updated),
		exists: fmt.Sprintf(`SELECT 1 FROM %s WHERE %s = $1`, t, id),
	}, nil
}
