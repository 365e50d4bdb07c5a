package ingest

import (
	"errors"
	"time"
)

// OutboxConfig configures the write-back outbox (outbox.go).
type OutboxConfig struct {
	RetryBase       time.Duration // backoff ceiling of the first retry of a failed delivery
	RetryMax        time.Duration // backoff cap (OUTBOX_RETRY_MAX); deliveries are retried forever
	ScanInterval    time.Duration // how often outbox/ is listed for entries of other processes (OUTBOX_SCAN_INTERVAL)
	ClaimTTL        time.Duration // how long a claim keeps other replicas off an entry; must exceed DeliveryTimeout
	DeliveryTimeout time.Duration // budget of one delivery (result event plus catalog update)
	StoreTimeout    time.Duration // budget of one read or write of an entry
	Workers         int           // deliveries at once
	MaxTracked      int           // entries one replica tracks in memory; the rest wait for the next scan
	PageSize        int           // keys per listing page
	Owner           string        // this replica's name in claims; "" = host name, pid and a random suffix
}

// DefaultOutboxConfig returns the defaults.
func DefaultOutboxConfig() OutboxConfig {
	return OutboxConfig{
		RetryBase: time.Second, RetryMax: time.Minute, ScanInterval: 30 * time.Second,
		ClaimTTL: 2 * time.Minute, DeliveryTimeout: 30 * time.Second, StoreTimeout: 10 * time.Second,
		Workers: 4, MaxTracked: 100_000, PageSize: 1000,
	}
}

// Validate names every problem.
func (c OutboxConfig) Validate() error {
	var errs []error
	if c.RetryBase <= 0 || c.RetryMax < c.RetryBase {
		errs = append(errs, errors.New("OUTBOX_RETRY_MAX must be positive and at least the retry base"))
	}
	if c.ScanInterval <= 0 {
		errs = append(errs, errors.New("OUTBOX_SCAN_INTERVAL must be positive"))
	}
	if c.DeliveryTimeout <= 0 || c.StoreTimeout <= 0 || c.ClaimTTL <= c.DeliveryTimeout+c.StoreTimeout {
		errs = append(errs, errors.New("outbox: timeouts must be positive and the claim must outlast a delivery and its store write"))
	}
	if c.Workers < 1 || c.MaxTracked < 1 || c.PageSize < 1 {
		errs = append(errs, errors.New("outbox: workers, tracked entries and page size must be positive"))
	}
	return errors.Join(errs...)
}
