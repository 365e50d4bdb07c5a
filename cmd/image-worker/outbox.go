package main

import (
	"context"

	"github.com/bookcovers/image-worker/events"
	"github.com/bookcovers/image-worker/ingest"
)

// outboxConfig reads the OUTBOX_* variables.
func outboxConfig(e *env) ingest.OutboxConfig {
	c := ingest.DefaultOutboxConfig()
	c.RetryMax = e.duration("OUTBOX_RETRY_MAX", c.RetryMax)
	if c.RetryMax > 0 {
		c.RetryBase = min(c.RetryBase, c.RetryMax) // a cap below 1s (tests) starts there too
	}
	c.ScanInterval = e.duration("OUTBOX_SCAN_INTERVAL", c.ScanInterval)
	return c
}

// writeBacks reports whether covers are reported anywhere: the catalog
// write-back or result events.
func (c config) writeBacks() bool {
	return c.Catalog.Enabled() || (c.kafkaEnabled() && c.Kafka.ResultTopic != "")
}

// writeBackTargets is what jobs and the consumer report outcomes to: the
// outbox, which records them durably and delivers them to the outlets, or
// the outlets themselves when nothing is written back (they then do nothing).
func (a *app) writeBackTargets() (ingest.Notifier, events.Outcomes) {
	if a.outbox != nil {
		return a.outbox, a.outbox
	}
	return a.outlets.notifier, a.outlets.notifier
}

// startOutbox starts delivering queued write-backs in the background.
func (a *app) startOutbox() error {
	if a.outbox == nil {
		return nil
	}
	return a.outbox.Start()
}

// stopOutbox stops delivering; what is left stays queued in the store.
func (a *app) stopOutbox(ctx context.Context) error {
	if a.outbox == nil {
		return nil
	}
	return a.outbox.Stop(ctx)
}
