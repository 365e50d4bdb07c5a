package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/events"
	"github.com/bookcovers/image-worker/ingest"
	"github.com/bookcovers/image-worker/proxy"
	"github.com/bookcovers/image-worker/signing"
	"github.com/bookcovers/image-worker/transform"
)

// config is every setting of the service, read once from the environment.
type config struct {
	ListenAddr   string
	InternalAddr string
	DataDir      string
	LogLevel     slog.Level
	// ShutdownDelay is how long a terminating replica reports not-ready while
	// still serving, so load balancers move away before connections close.
	ShutdownDelay time.Duration

	S3          cache.MinIOConfig // used when S3.Endpoint is set
	ManifestTTL time.Duration
	// ManifestStale: how long past MANIFEST_TTL a manifest is served while
	// the store cannot be reached.
	ManifestStale time.Duration
	// StoreTimeout (STORE_TIMEOUT) is one budget for all the store calls of
	// a request, and the bound of each store phase of a shared fill.
	StoreTimeout time.Duration
	Variants     cache.VariantsConfig
	Peers        cache.PeersConfig

	Fetch     ingest.FetchConfig
	Jobs      ingest.JobsConfig
	Transform transform.Config
	Proxy     proxy.Config
	Signing   signing.Config
	Timeouts  proxy.ServerTimeouts

	Kafka   events.Config        // Kafka consumer and result events; no brokers disables both
	Catalog events.CatalogConfig // catalog write-back; empty CATALOG_DATABASE_URL disables it
	Outbox  ingest.OutboxConfig  // durable queue of write-backs (OUTBOX_*)
	// Prerender (PRERENDER): variants rendered, in one ladder operation,
	// as soon as a new original is stored.
	Prerender ingest.PrerenderConfig
	// Placeholders (PLACEHOLDER_*): the rules that refuse a publisher's
	// "no image" picture at ingest.
	Placeholders ingest.PlaceholderConfig
	// Trim (TRIM_BORDERS, TRIM_THRESHOLD): a new original's uniform border
	// found at ingest and recorded in its manifest.
	Trim ingest.TrimConfig
}

// kafkaEnabled reports whether KAFKA_BROKERS names any broker.
func (c config) kafkaEnabled() bool { return len(c.Kafka.Brokers) > 0 }

// loadConfig reads and validates the environment, naming every problem.
func loadConfig(lookup func(string) (string, bool)) (config, error) {
	return readConfig(lookup, true)
}

// loadStoreConfig is loadConfig for a command that stores covers but never
// signs or verifies a URL (import): the signing keys may be absent.
func loadStoreConfig(lookup func(string) (string, bool)) (config, error) {
	return readConfig(lookup, false)
}

// readConfig reads and validates the configuration; the signing keys are
// checked only when withKeys is set.
func readConfig(lookup func(string) (string, bool), withKeys bool) (config, error) {
	e := &env{lookup: lookup}
	c := config{
		ListenAddr:    e.str("LISTEN_ADDR", ":8000"),
		InternalAddr:  e.str("INTERNAL_ADDR", "127.0.0.1:8081"),
		DataDir:       e.str("DATA_DIR", "./data"),
		ShutdownDelay: e.duration("SHUTDOWN_DELAY", 5*time.Second),
		Timeouts:      proxy.DefaultServerTimeouts(),
	}
	c.Timeouts.ReadHeader = e.duration("HTTP_READ_HEADER_TIMEOUT", c.Timeouts.ReadHeader)
	c.Timeouts.Read = e.duration("HTTP_READ_TIMEOUT", c.Timeouts.Read)
	c.Timeouts.Write = e.duration("HTTP_WRITE_TIMEOUT", c.Timeouts.Write)
	c.Timeouts.Idle = e.duration("HTTP_IDLE_TIMEOUT", c.Timeouts.Idle)
	c.Timeouts.MaxHeader = e.integer("HTTP_MAX_HEADER_BYTES", c.Timeouts.MaxHeader)
	if err := c.LogLevel.UnmarshalText([]byte(e.str("LOG_LEVEL", "info"))); err != nil {
		e.errs = append(e.errs, fmt.Errorf("LOG_LEVEL: %w", err))
	}

	c.S3 = cache.DefaultMinIOConfig()
	c.S3.Endpoint = e.str("S3_ENDPOINT", "")
	c.S3.AccessKey = e.secret("S3_ACCESS_KEY")
	c.S3.SecretKey = e.secret("S3_SECRET_KEY")
	c.S3.Region = e.str("S3_REGION", c.S3.Region)
	c.S3.UseSSL = e.boolean("S3_USE_SSL", false)
	c.S3.Bucket = e.str("IMAGE_STORAGE_BUCKET", "book-covers")

	c.StoreTimeout = e.duration("STORE_TIMEOUT", 2*time.Second)

	c.Variants = cache.DefaultVariantsConfig()
	c.Variants.StoreTimeout = c.StoreTimeout
	c.Variants.CacheBytes = int64(e.integer("GROUPCACHE_SIZE_MB", 256)) << 20
	c.Peers = cache.DefaultPeersConfig()
	c.Peers.Self = e.str("GROUPCACHE_SELF", "")
	c.Peers.Static = e.list("GROUPCACHE_PEERS")
	c.Peers.DNS = e.str("GROUPCACHE_PEERS_DNS", "")
	c.Peers.Refresh = e.duration("GROUPCACHE_PEERS_REFRESH", c.Peers.Refresh)
	c.Peers.Timeout = e.duration("GROUPCACHE_PEER_TIMEOUT", c.Peers.Timeout)
	c.Peers.Secret = e.secret("PEER_SECRET")

	c.Fetch = ingest.DefaultFetchConfig()
	c.Fetch.MaxBytes = int64(e.integer("MAX_IMAGE_SIZE_MB", 5)) << 20
	c.Fetch.Timeout = e.duration("PROCESS_TIMEOUT_SEC", c.Fetch.Timeout)
	c.Fetch.AllowPrivate = e.list("SOURCE_ALLOW_PRIVATE_HOSTS")
	c.Fetch.AllowedPorts = e.intList("SOURCE_ALLOWED_PORTS", c.Fetch.AllowedPorts)
	c.Fetch.DenyCIDRs = e.list("SOURCE_DENY_CIDRS")

	c.Transform = transform.DefaultConfig()
	c.Transform.WebPQuality = e.integer("WEBP_QUALITY", c.Transform.WebPQuality)
	c.Transform.AVIFQuality = e.integer("AVIF_QUALITY", c.Transform.AVIFQuality)
	c.Transform.AVIFEffort = e.integer("AVIF_EFFORT", c.Transform.AVIFEffort)
	c.Transform.JPEGQuality = e.integer("JPEG_QUALITY", c.Transform.JPEGQuality)
	c.Transform.MaxConcurrent = e.integer("MAX_CONCURRENT_TRANSFORMS", c.Transform.MaxConcurrent)
	c.Transform.QueueSize = e.integer("TRANSFORM_QUEUE_SIZE", c.Transform.QueueSize)
	c.Transform.VipsConcurrency = e.integer("VIPS_CONCURRENCY", c.Transform.VipsConcurrency)
	c.Transform.MaxPixels = int64(e.integer("MAX_IMAGE_PIXELS", int(c.Transform.MaxPixels)))
	c.Transform.WorkerCommand = workerCommand()

	c.Jobs = ingest.DefaultJobsConfig()
	c.Jobs.Workers = e.integer("JOB_WORKERS", c.Jobs.Workers)
	c.Jobs.RetryBase = e.duration("JOB_RETRY_BASE", c.Jobs.RetryBase)
	c.Jobs.RetryMax = e.duration("JOB_RETRY_MAX", c.Jobs.RetryMax)
	c.Jobs.Lease = e.duration("JOB_LEASE", c.Jobs.Lease)
	c.Jobs.SubmitTimeout = c.StoreTimeout
	c.Jobs.Timeout = c.Fetch.Timeout + c.Jobs.StoreTimeout

	c.Proxy = proxy.DefaultConfig()
	if s := e.str("COVER_SIZES", ""); s != "" {
		sizes, err := proxy.ParseSizes(s)
		if err != nil {
			e.errs = append(e.errs, err)
		}
		c.Proxy.Sizes = sizes
	}
	c.Proxy.MaxDimension = e.integer("MAX_COVER_DIMENSION", c.Proxy.MaxDimension)
	c.Prerender = prerenderConfig(e, c.Proxy.Sizes, c.Proxy.MinDimension, c.Proxy.MaxDimension)
	c.Prerender.MaxPending = max(c.Transform.MaxConcurrent, 1)
	c.Proxy.StoreTimeout = c.StoreTimeout
	c.Proxy.MaxAge = e.duration("COVER_MAX_AGE", c.Proxy.MaxAge)
	c.Proxy.Placeholders = e.boolean("PLACEHOLDERS", true)
	c.Proxy.AdminToken = e.secret("ADMIN_TOKEN")
	c.Proxy.ProcessTokens = proxy.ParseTokens(e.secret("PROCESS_TOKENS"))
	c.Proxy.AccessLog = e.boolean("ACCESS_LOG", c.Proxy.AccessLog)
	c.Proxy.Pprof = e.boolean("PPROF", false)
	origins, originsErr := proxy.ParseOrigins(e.str("ALLOW_ORIGINS", ""))
	if originsErr != nil {
		e.errs = append(e.errs, originsErr)
	}
	c.Proxy.AllowOrigins = origins

	c.ManifestTTL = e.duration("MANIFEST_TTL", 30*time.Second)
	c.ManifestStale = e.duration("MANIFEST_STALE", cache.DefaultManifestStale)
	keys, err := signing.ParseKeys(e.secret("IMAGE_SIGNING_KEYS"))
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("IMAGE_SIGNING_KEYS: %w", err))
	}
	c.Signing = signing.Config{Keys: keys, Disabled: e.boolean("IMAGE_SIGNING_DISABLED", false)}
	c.Kafka = kafkaConfig(e, c.S3.Bucket)
	c.Catalog = events.DefaultCatalogConfig()
	c.Catalog.DatabaseURL = e.secret("CATALOG_DATABASE_URL")
	c.Catalog.Table = e.str("CATALOG_TABLE", c.Catalog.Table)
	c.Catalog.BookIDColumn = e.str("CATALOG_BOOK_ID_COLUMN", c.Catalog.BookIDColumn)
	c.Catalog.URLColumn = e.str("CATALOG_URL_COLUMN", c.Catalog.URLColumn)
	c.Catalog.VersionColumn = e.str("CATALOG_VERSION_COLUMN", c.Catalog.VersionColumn)
	c.Catalog.UpdatedAtColumn = e.str("CATALOG_UPDATED_AT_COLUMN", c.Catalog.UpdatedAtColumn)
	c.Catalog.Timeout = e.duration("CATALOG_TIMEOUT", c.Catalog.Timeout)
	c.Catalog.WidthColumn = e.str("CATALOG_WIDTH_COLUMN", "")
	c.Catalog.HeightColumn = e.str("CATALOG_HEIGHT_COLUMN", "")
	c.Catalog.DominantColorColumn = e.str("CATALOG_DOMINANT_COLOR_COLUMN", "")
	c.Catalog.BlurHashColumn = e.str("CATALOG_BLURHASH_COLUMN", "")
	c.Catalog.StatusColumn = e.str("CATALOG_STATUS_COLUMN", "")
	c.Outbox = outboxConfig(e)
	c.Placeholders = placeholderConfig(e)

	c.Trim = ingest.DefaultTrimConfig()
	c.Trim.Enabled = e.boolean("TRIM_BORDERS", c.Trim.Enabled)
	c.Trim.Threshold = e.number("TRIM_THRESHOLD", c.Trim.Threshold)

	errs := e.errs
	if c.S3.Endpoint != "" {
		errs = append(errs, c.S3.Validate())
	} else {
		c.DataDir = filepath.Clean(c.DataDir)
	}
	if c.ManifestStale < 0 {
		errs = append(errs, errors.New("MANIFEST_STALE must not be negative"))
	}
	if c.ManifestTTL <= 0 {
		errs = append(errs, errors.New("MANIFEST_TTL must be positive"))
	}
	if c.kafkaEnabled() {
		errs = append(errs, c.Kafka.Validate())
	}
	if c.Catalog.Enabled() {
		errs = append(errs, c.Catalog.Validate())
	}
	errs = append(errs, c.Outbox.Validate(), c.Prerender.Validate(), c.Placeholders.Validate(), c.Trim.Validate())
	errs = append(errs, c.Timeouts.Validate(), c.Peers.Validate(), c.Variants.Validate(), c.Fetch.Validate(), c.Transform.Validate(), c.Jobs.Validate(), c.Proxy.Validate())
	if withKeys {
		errs = append(errs, c.Signing.Validate())
	}
	return c, errors.Join(errs...)
}

// placeholderConfig reads the PLACEHOLDER_* variables: the rules of cover
// quality at ingest (PLACEHOLDERS, the covers generated for books without
// one, is another setting).
func placeholderConfig(e *env) ingest.PlaceholderConfig {
	p := ingest.DefaultPlaceholderConfig()
	p.MinSide = e.integer("PLACEHOLDER_MIN_SIDE", p.MinSide)
	p.MinBytes = int64(e.integer("PLACEHOLDER_MIN_BYTES", int(p.MinBytes)))
	if s := e.str("PLACEHOLDER_MIN_DEVIATION", ""); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			e.errs = append(e.errs, fmt.Errorf("PLACEHOLDER_MIN_DEVIATION=%q: not a number", s))
		}
		p.MinDeviation = v
	}
	p.ReferencesDir = e.str("PLACEHOLDER_REFERENCES_DIR", "")
	p.HashDistance = e.integer("PLACEHOLDER_HASH_DISTANCE", p.HashDistance)
	var err error
	if p.AspectMin, p.AspectMax, err = ingest.ParseAspectRange(e.str("PLACEHOLDER_ASPECT_RANGE", "")); err != nil {
		e.errs = append(e.errs, err)
	}
	return p
}

// kafkaConfig reads the KAFKA_* variables. The seed's KAFKA_BROKERS keeps its
// default kafka:9092; an empty value disables the consumer and result events.
func kafkaConfig(e *env, bucket string) events.Config {
	k := events.DefaultConfig()
	k.Brokers = nil
	for _, b := range strings.Split(e.str("KAFKA_BROKERS", "kafka:9092"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			k.Brokers = append(k.Brokers, b)
		}
	}
	k.Topic = e.str("KAFKA_TOPIC", k.Topic)
	k.GroupID = e.str("KAFKA_GROUP_ID", k.GroupID)
	k.DLQTopic = e.str("KAFKA_DLQ_TOPIC", k.DLQTopic)
	k.ResultTopic = e.str("KAFKA_RESULT_TOPIC", k.ResultTopic)
	k.Concurrency = e.integer("KAFKA_CONCURRENCY", k.Concurrency)
	k.RetryBase = e.duration("KAFKA_RETRY_BASE", k.RetryBase)
	k.RetryMax = e.duration("KAFKA_RETRY_MAX", k.RetryMax)
	k.MaxAttempts = e.integer("KAFKA_MAX_ATTEMPTS", k.MaxAttempts)
	k.LagInterval = e.duration("KAFKA_LAG_INTERVAL", k.LagInterval)
	k.ShutdownGrace = e.duration("KAFKA_SHUTDOWN_GRACE", k.ShutdownGrace)
	k.Bucket = bucket
	return k
}

// workerCommand is how the renderer starts a render worker: this same
// executable with the hidden render-worker subcommand.
func workerCommand() []string {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return []string{exe, renderWorkerCmd}
}
