package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/events"
	"github.com/bookcovers/image-worker/ingest"
	"github.com/bookcovers/image-worker/internal/env"
	"github.com/bookcovers/image-worker/proxy"
	"github.com/bookcovers/image-worker/signing"
	"github.com/bookcovers/image-worker/transform"
)

// config is every setting of the service, read once from the environment:
// each package reads its own variables into its Config (...FromEnv, through
// the Reader cmd hands it); cmd reads the process's own (listeners, data
// directory, log level, shutdown delay, STORE_TIMEOUT) and sets what one
// package's settings take from another's.
type config struct {
	ListenAddr   string
	InternalAddr string
	DataDir      string
	LogLevel     slog.Level
	// ShutdownDelay is how long a terminating replica reports not-ready while
	// still serving, so load balancers move away before connections close.
	ShutdownDelay time.Duration

	S3        cache.MinIOConfig // used when S3.Endpoint is set
	Manifests cache.ManifestsConfig
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

// writeBacks reports whether covers are reported anywhere: the catalog
// write-back or result events.
func (c config) writeBacks() bool {
	return c.Catalog.Enabled() || (c.kafkaEnabled() && c.Kafka.ResultTopic != "")
}

// loadConfig reads and validates the environment, naming every problem.
func loadConfig(lookup env.Lookup) (config, error) {
	return readConfig(lookup, true)
}

// loadStoreConfig is loadConfig for a command that stores covers but never
// signs or verifies a URL (import): the signing keys may be absent.
func loadStoreConfig(lookup env.Lookup) (config, error) {
	return readConfig(lookup, false)
}

// readConfig reads and validates the configuration; the signing keys are
// checked only when withKeys is set.
func readConfig(lookup env.Lookup, withKeys bool) (config, error) {
	e := env.New(lookup)
	c := config{
		ListenAddr:    e.Str("LISTEN_ADDR", ":8000"),
		InternalAddr:  e.Str("INTERNAL_ADDR", "127.0.0.1:8081"),
		DataDir:       e.Str("DATA_DIR", "./data"),
		ShutdownDelay: e.Duration("SHUTDOWN_DELAY", 5*time.Second),
		StoreTimeout:  e.Duration("STORE_TIMEOUT", 2*time.Second),
		Timeouts:      proxy.ServerTimeoutsFromEnv(e),
		S3:            cache.MinIOConfigFromEnv(e),
		Manifests:     cache.ManifestsConfigFromEnv(e),
		Variants:      cache.VariantsConfigFromEnv(e),
		Peers:         cache.PeersConfigFromEnv(e),
		Fetch:         ingest.FetchConfigFromEnv(e),
		Jobs:          ingest.JobsConfigFromEnv(e),
		Transform:     transform.ConfigFromEnv(e),
		Proxy:         proxy.ConfigFromEnv(e),
		Signing:       signing.ConfigFromEnv(e),
		Kafka:         events.ConfigFromEnv(e),
		Catalog:       events.CatalogConfigFromEnv(e),
		Outbox:        ingest.OutboxConfigFromEnv(e),
		Placeholders:  ingest.PlaceholderConfigFromEnv(e),
		Trim:          ingest.TrimConfigFromEnv(e),
	}
	if err := c.LogLevel.UnmarshalText([]byte(e.Str("LOG_LEVEL", "info"))); err != nil {
		e.Fail(fmt.Errorf("LOG_LEVEL: %w", err))
	}
	// What one package's settings take from another's.
	c.Variants.StoreTimeout = c.StoreTimeout
	c.Proxy.StoreTimeout = c.StoreTimeout
	c.Jobs.SubmitTimeout = c.StoreTimeout
	c.Jobs.Timeout = c.Fetch.Timeout + c.Jobs.StoreTimeout
	c.Transform.WorkerCommand = workerCommand()
	c.Kafka.Bucket = c.S3.Bucket
	c.Prerender = ingest.PrerenderConfigFromEnv(e, c.Proxy.Sizes, c.Proxy.MinDimension, c.Proxy.MaxDimension)
	c.Prerender.MaxPending = max(c.Transform.MaxConcurrent, 1)

	errs := []error{e.Err()}
	if c.S3.Endpoint != "" {
		errs = append(errs, c.S3.Validate())
	} else {
		c.DataDir = filepath.Clean(c.DataDir)
	}
	if c.kafkaEnabled() {
		errs = append(errs, c.Kafka.Validate())
	}
	if c.Catalog.Enabled() {
		errs = append(errs, c.Catalog.Validate())
	}
	errs = append(errs, c.Manifests.Validate(), c.Outbox.Validate(), c.Prerender.Validate(), c.Placeholders.Validate(), c.Trim.Validate())
	errs = append(errs, c.Timeouts.Validate(), c.Peers.Validate(), c.Variants.Validate(), c.Fetch.Validate(), c.Transform.Validate(), c.Jobs.Validate(), c.Proxy.Validate())
	if withKeys {
		errs = append(errs, c.Signing.Validate())
	}
	return c, errors.Join(errs...)
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
