package events

import (
	"strings"

	"github.com/bookcovers/image-worker/internal/env"
)

// The environment variables of the Kafka adapter and the catalog
// write-back (README, Configuration). cmd passes the Reader and the
// bucket (IMAGE_STORAGE_BUCKET, the store's); nothing here calls
// os.Getenv.

// ConfigFromEnv reads the KAFKA_* variables over DefaultConfig. The seed's
// KAFKA_BROKERS keeps its default kafka:9092; an empty value disables the
// consumer and the result events.
func ConfigFromEnv(e *env.Reader) Config {
	k := DefaultConfig()
	k.Brokers = nil
	for _, b := range strings.Split(e.Str("KAFKA_BROKERS", "kafka:9092"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			k.Brokers = append(k.Brokers, b)
		}
	}
	k.Topic = e.Str("KAFKA_TOPIC", k.Topic)
	k.GroupID = e.Str("KAFKA_GROUP_ID", k.GroupID)
	k.DLQTopic = e.Str("KAFKA_DLQ_TOPIC", k.DLQTopic)
	k.ResultTopic = e.Str("KAFKA_RESULT_TOPIC", k.ResultTopic)
	k.Concurrency = e.Int("KAFKA_CONCURRENCY", k.Concurrency)
	k.RetryBase = e.Duration("KAFKA_RETRY_BASE", k.RetryBase)
	k.RetryMax = e.Duration("KAFKA_RETRY_MAX", k.RetryMax)
	k.MaxAttempts = e.Int("KAFKA_MAX_ATTEMPTS", k.MaxAttempts)
	k.LagInterval = e.Duration("KAFKA_LAG_INTERVAL", k.LagInterval)
	k.ShutdownGrace = e.Duration("KAFKA_SHUTDOWN_GRACE", k.ShutdownGrace)
	return k
}

// CatalogConfigFromEnv reads the CATALOG_* variables over
// DefaultCatalogConfig: an empty CATALOG_DATABASE_URL (or its _FILE)
// disables the write-back, and the metadata columns are empty (not
// written) unless named.
func CatalogConfigFromEnv(e *env.Reader) CatalogConfig {
	c := DefaultCatalogConfig()
	c.DatabaseURL = e.Secret("CATALOG_DATABASE_URL")
	c.Table = e.Str("CATALOG_TABLE", c.Table)
	c.BookIDColumn = e.Str("CATALOG_BOOK_ID_COLUMN", c.BookIDColumn)
	c.URLColumn = e.Str("CATALOG_URL_COLUMN", c.URLColumn)
	c.VersionColumn = e.Str("CATALOG_VERSION_COLUMN", c.VersionColumn)
	c.UpdatedAtColumn = e.Str("CATALOG_UPDATED_AT_COLUMN", c.UpdatedAtColumn)
	c.Timeout = e.Duration("CATALOG_TIMEOUT", c.Timeout)
	c.WidthColumn = e.Str("CATALOG_WIDTH_COLUMN", "")
	c.HeightColumn = e.Str("CATALOG_HEIGHT_COLUMN", "")
	c.DominantColorColumn = e.Str("CATALOG_DOMINANT_COLOR_COLUMN", "")
	c.BlurHashColumn = e.Str("CATALOG_BLURHASH_COLUMN", "")
	c.StatusColumn = e.Str("CATALOG_STATUS_COLUMN", "")
	return c
}
