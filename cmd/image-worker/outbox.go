package main

import (
	"context"

	"github.com/bookcovers/image-worker/events"
	"github.com/bookcovers/image-worker/ingest"
)

// writeBackTargets is what jobs and the consumer report outcomes to: the
// outbox, which records them durably and delivers them to the outlets, or
// the outlets themselves when nothing is written back (they then do nothing).
func (a *app) writeBackTargets() (ingest.Notifier, events.Outcomes) {
	if a.outbox != nil {
		return a.outbox, a.outbox
	}
	return a.outlets.Notifier, a.outlets.Notifier
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
