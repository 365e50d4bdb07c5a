package ingest

import (
	"fmt"
	"strings"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/internal/env"
)

// The environment variables of ingest (README, Configuration): each
// ...FromEnv starts from the Default... of its Config. cmd passes the
// Reader and sets what comes from other settings (the jobs' timeouts from
// PROCESS_TIMEOUT_SEC and STORE_TIMEOUT, PRERENDER's queue from the render
// slots); nothing here calls os.Getenv.

// FetchConfigFromEnv reads MAX_IMAGE_SIZE_MB, PROCESS_TIMEOUT_SEC,
// SOURCE_ALLOW_PRIVATE_HOSTS, SOURCE_ALLOWED_PORTS and SOURCE_DENY_CIDRS.
func FetchConfigFromEnv(e *env.Reader) FetchConfig {
	c := DefaultFetchConfig()
	c.MaxBytes = int64(e.Int("MAX_IMAGE_SIZE_MB", 5)) << 20
	c.Timeout = e.Duration("PROCESS_TIMEOUT_SEC", c.Timeout)
	c.AllowPrivate = e.List("SOURCE_ALLOW_PRIVATE_HOSTS")
	c.AllowedPorts = e.IntList("SOURCE_ALLOWED_PORTS", c.AllowedPorts)
	c.DenyCIDRs = e.List("SOURCE_DENY_CIDRS")
	return c
}

// JobsConfigFromEnv reads JOB_WORKERS, JOB_RETRY_BASE, JOB_RETRY_MAX and
// JOB_LEASE.
func JobsConfigFromEnv(e *env.Reader) JobsConfig {
	c := DefaultJobsConfig()
	c.Workers = e.Int("JOB_WORKERS", c.Workers)
	c.RetryBase = e.Duration("JOB_RETRY_BASE", c.RetryBase)
	c.RetryMax = e.Duration("JOB_RETRY_MAX", c.RetryMax)
	c.Lease = e.Duration("JOB_LEASE", c.Lease)
	return c
}

// OutboxConfigFromEnv reads OUTBOX_RETRY_MAX and OUTBOX_SCAN_INTERVAL.
func OutboxConfigFromEnv(e *env.Reader) OutboxConfig {
	c := DefaultOutboxConfig()
	c.RetryMax = e.Duration("OUTBOX_RETRY_MAX", c.RetryMax)
	if c.RetryMax > 0 {
		c.RetryBase = min(c.RetryBase, c.RetryMax) // a cap below 1s (tests) starts there too
	}
	c.ScanInterval = e.Duration("OUTBOX_SCAN_INTERVAL", c.ScanInterval)
	return c
}

// PrerenderConfigFromEnv reads PRERENDER against the presets (COVER_SIZES)
// and the dimension bounds: unset, every preset in WebP and AVIF; empty,
// "off" or "none", no warming; otherwise a comma-separated list of SIZE or
// SIZE.FORMAT (ParsePrerender), where a SIZE without a format means WebP
// and AVIF.
func PrerenderConfigFromEnv(e *env.Reader, sizes map[string]cover.Size, minDim, maxDim int) PrerenderConfig {
	c := DefaultPrerenderConfig()
	raw, set := e.Lookup("PRERENDER")
	raw = strings.TrimSpace(raw)
	if !set {
		c.Variants = DefaultPrerender(sizes)
		return c
	}
	if raw == "" || strings.EqualFold(raw, "off") || strings.EqualFold(raw, "none") {
		return c
	}
	vs, err := ParsePrerender(e.List("PRERENDER"), sizes, minDim, maxDim)
	if err != nil {
		e.Fail(fmt.Errorf("PRERENDER: %w", err))
	}
	c.Variants = vs
	return c
}

// PlaceholderConfigFromEnv reads the PLACEHOLDER_* variables: the rules of
// cover quality at ingest (PLACEHOLDERS, the covers generated for books
// without one, is proxy's).
func PlaceholderConfigFromEnv(e *env.Reader) PlaceholderConfig {
	c := DefaultPlaceholderConfig()
	c.MinSide = e.Int("PLACEHOLDER_MIN_SIDE", c.MinSide)
	c.MinBytes = int64(e.Int("PLACEHOLDER_MIN_BYTES", int(c.MinBytes)))
	c.MinDeviation = e.Float("PLACEHOLDER_MIN_DEVIATION", c.MinDeviation)
	c.ReferencesDir = e.Str("PLACEHOLDER_REFERENCES_DIR", "")
	c.HashDistance = e.Int("PLACEHOLDER_HASH_DISTANCE", c.HashDistance)
	var err error
	if c.AspectMin, c.AspectMax, err = ParseAspectRange(e.Str("PLACEHOLDER_ASPECT_RANGE", "")); err != nil {
		e.Fail(err)
	}
	return c
}

// TrimConfigFromEnv reads TRIM_BORDERS and TRIM_THRESHOLD.
func TrimConfigFromEnv(e *env.Reader) TrimConfig {
	c := DefaultTrimConfig()
	c.Enabled = e.Bool("TRIM_BORDERS", c.Enabled)
	c.Threshold = e.Float("TRIM_THRESHOLD", c.Threshold)
	return c
}
