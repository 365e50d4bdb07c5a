package cache

import (
	"errors"
	"time"

	"github.com/bookcovers/image-worker/internal/env"
)

// The environment variables of the store and the caches (README,
// Configuration). cmd passes the Reader; nothing here calls os.Getenv.

// MinIOConfigFromEnv reads S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY (or
// their _FILE), S3_REGION, S3_USE_SSL and IMAGE_STORAGE_BUCKET over
// DefaultMinIOConfig. An empty S3_ENDPOINT means the embedded local store.
func MinIOConfigFromEnv(e *env.Reader) MinIOConfig {
	c := DefaultMinIOConfig()
	c.Endpoint = e.Str("S3_ENDPOINT", "")
	c.AccessKey = e.Secret("S3_ACCESS_KEY")
	c.SecretKey = e.Secret("S3_SECRET_KEY")
	c.Region = e.Str("S3_REGION", c.Region)
	c.UseSSL = e.Bool("S3_USE_SSL", false)
	c.Bucket = BucketFromEnv(e)
	return c
}

// BucketFromEnv reads IMAGE_STORAGE_BUCKET (book-covers) alone, for a
// command that names the bucket in storage URLs without opening the store
// (redrive).
func BucketFromEnv(e *env.Reader) string { return e.Str("IMAGE_STORAGE_BUCKET", "book-covers") }

// VariantsConfigFromEnv reads GROUPCACHE_SIZE_MB (256) over
// DefaultVariantsConfig; the store budget is cmd's (STORE_TIMEOUT).
func VariantsConfigFromEnv(e *env.Reader) VariantsConfig {
	c := DefaultVariantsConfig()
	c.CacheBytes = int64(e.Int("GROUPCACHE_SIZE_MB", 256)) << 20
	return c
}

// PeersConfigFromEnv reads GROUPCACHE_SELF, GROUPCACHE_PEERS,
// GROUPCACHE_PEERS_DNS, GROUPCACHE_PEERS_REFRESH, GROUPCACHE_PEER_TIMEOUT
// and PEER_SECRET (or PEER_SECRET_FILE) over DefaultPeersConfig.
func PeersConfigFromEnv(e *env.Reader) PeersConfig {
	c := DefaultPeersConfig()
	c.Self = e.Str("GROUPCACHE_SELF", "")
	c.Static = e.List("GROUPCACHE_PEERS")
	c.DNS = e.Str("GROUPCACHE_PEERS_DNS", "")
	c.Refresh = e.Duration("GROUPCACHE_PEERS_REFRESH", c.Refresh)
	c.Timeout = e.Duration("GROUPCACHE_PEER_TIMEOUT", c.Timeout)
	c.Secret = e.Secret("PEER_SECRET")
	return c
}

// ManifestsConfig is how long a book's manifest is trusted (NewManifests,
// SetStale).
type ManifestsConfig struct {
	// TTL (MANIFEST_TTL): how long a loaded manifest is served before it
	// is read again.
	TTL time.Duration
	// Stale (MANIFEST_STALE): how long past TTL it is still served while
	// the store cannot be reached.
	Stale time.Duration
}

// DefaultManifestsConfig is a 30 s TTL, served stale for DefaultManifestStale.
func DefaultManifestsConfig() ManifestsConfig {
	return ManifestsConfig{TTL: 30 * time.Second, Stale: DefaultManifestStale}
}

// ManifestsConfigFromEnv reads MANIFEST_TTL and MANIFEST_STALE.
func ManifestsConfigFromEnv(e *env.Reader) ManifestsConfig {
	c := DefaultManifestsConfig()
	c.TTL = e.Duration("MANIFEST_TTL", c.TTL)
	c.Stale = e.Duration("MANIFEST_STALE", c.Stale)
	return c
}

// Validate names each setting out of range.
func (c ManifestsConfig) Validate() error {
	var errs []error
	if c.Stale < 0 {
		errs = append(errs, errors.New("MANIFEST_STALE must not be negative"))
	}
	if c.TTL <= 0 {
		errs = append(errs, errors.New("MANIFEST_TTL must be positive"))
	}
	return errors.Join(errs...)
}
