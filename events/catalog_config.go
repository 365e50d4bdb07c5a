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

	// The cover's metadata and status, each written only when its column is
	// named: empty, the default, writes nothing, so a catalog without these
	// columns keeps working as it did.
	WidthColumn         string // CATALOG_WIDTH_COLUMN (integer): the original's upright width
	HeightColumn        string // CATALOG_HEIGHT_COLUMN (integer): its upright height
	DominantColorColumn string // CATALOG_DOMINANT_COLOR_COLUMN (text): "#rrggbb"
	BlurHashColumn      string // CATALOG_BLURHASH_COLUMN (text)
	StatusColumn        string // CATALOG_STATUS_COLUMN (text): ok, missing or placeholder (ingest.CoverStatus)
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
	columns := []catalogColumn{
		{"CATALOG_BOOK_ID_COLUMN", c.BookIDColumn},
		{"CATALOG_URL_COLUMN", c.URLColumn},
		{"CATALOG_VERSION_COLUMN", c.VersionColumn},
		{"CATALOG_UPDATED_AT_COLUMN", c.UpdatedAtColumn},
	}
	for _, col := range c.optionalColumns() {
		if col.value != "" {
			columns = append(columns, col)
		}
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

// catalogColumn is one optional column: its variable and its name.
type catalogColumn struct{ env, value string }

// optionalColumns are the metadata and status columns, in the order their
// values follow the update's first four parameters (catalogStatements.meta).
func (c CatalogConfig) optionalColumns() []catalogColumn {
	return []catalogColumn{
		{"CATALOG_WIDTH_COLUMN", c.WidthColumn},
		{"CATALOG_HEIGHT_COLUMN", c.HeightColumn},
		{"CATALOG_DOMINANT_COLOR_COLUMN", c.DominantColorColumn},
		{"CATALOG_BLURHASH_COLUMN", c.BlurHashColumn},
		{"CATALOG_STATUS_COLUMN", c.StatusColumn},
	}
}

// catalogStatements are the statements of the write-back, built once from
// validated, quoted identifiers; values are always parameters.
type catalogStatements struct {
	// update: $1 book id, $2 storage URL, $3 version, $4 version time,
	// then one parameter per named optional column, in meta's order.
	update string
	meta   []int // indexes into optionalColumns of the columns update sets
	// status ("" without a status column): $1 book id, $2 status, $3 time.
	status string
	exists string // $1 book id
}

func (c CatalogConfig) statements() (catalogStatements, error) {
	table, err := c.tableIdentifier()
	if err != nil {
		return catalogStatements{}, err
	}
	q := func(name string) string { return pgx.Identifier{name}.Sanitize() }
	t, id, updated, version := table.Sanitize(), q(c.BookIDColumn), q(c.UpdatedAtColumn), q(c.VersionColumn)
	set := fmt.Sprintf(`%s = $2, %s = $3, %s = $4`, q(c.URLColumn), version, updated)
	var meta []int
	for i, col := range c.optionalColumns() {
		if col.value != "" {
			meta = append(meta, i)
			set += fmt.Sprintf(`, %s = $%d`, q(col.value), 4+len(meta))
		}
	}
	// "IS NULL" lets the first cover in; "<" moves the row only forward: a
	// repeated update, one of the same version time (the cover that got
	// there first stays, as in the manifest) and an older one change nothing.
	newer := fmt.Sprintf(`%s IS NULL OR %s < $4`, updated, updated)
	st := catalogStatements{meta: meta, exists: fmt.Sprintf(`SELECT 1 FROM %s WHERE %s = $1`, t, id)}
	if c.StatusColumn != "" {
		// A row that holds no cover (only a status: missing or
		// placeholder) takes any cover, whatever its time: the origin
		// serves that cover, so the row must name it.
		newer += fmt.Sprintf(` OR %s IS NULL`, version)
		// A status is written only to a row without a cover, and ordered
		// like covers among statuses.
		st.status = fmt.Sprintf(`UPDATE %s SET %s = $2, %s = $3 WHERE %s = $1 AND %s IS NULL AND (%s IS NULL OR %s < $3)`,
			t, q(c.StatusColumn), updated, id, version, updated, updated)
	}
	st.update = fmt.Sprintf(`UPDATE %s SET %s WHERE %s = $1 AND (%s)`, t, set, id, newer)
	return st, nil
}
