package events

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
)

// handle runs one record to its final outcome and reports whether it got one
// (succeeded, skipped or dead-lettered: commit it). false means the record
// was abandoned because the partition is stopping; it is not committed and
// will be delivered again.
func (p *partition) handle(ctx context.Context, rec *kgo.Record) bool {
	c := p.c
	start := time.Now()
	defer func() { c.m.duration.UpdateDuration(start) }()
	log := c.log.With("partition", rec.Partition, "offset", rec.Offset)

	ev, err := DecodeEvent(rec.Value)
	if err != nil {
		log.Warn("kafka event rejected", "code", cover.CodeBadEvent, "error", err)
		return p.deadLetter(ctx, rec, string(cover.CodeBadEvent), 1)
	}
	log = log.With("book_id", ev.BookID)
	at := orderTime(ev, rec, c.now)
	if ev.CoverImageURL == "" {
		c.m.skipped.Inc()
		log.Info("kafka event without cover_image_url skipped")
		return true
	}
	for attempt := 1; ; attempt++ {
		err := p.attempt(ctx, ev, at)
		switch {
		case err == nil:
			c.m.succeeded.Inc()
			log.Info("kafka event warmed", "attempts", attempt)
			return true
		case errors.Is(err, ingest.ErrPlaceholder):
			// A final answer about the source, recorded (result event,
			// cover_status) by attempt: not a failure of ours to redrive.
			reason, _ := ingest.PlaceholderReasonOf(err)
			c.m.refused.Inc()
			log.Info("kafka event refused: the original is a placeholder", "reason", reason, "attempts", attempt,
				"source_host", sourceHost(ev.CoverImageURL), "error", err)
			return true
		case ctx.Err() != nil || errors.Is(err, errStopped):
			c.m.failed.Inc()
			log.Warn("kafka event abandoned while stopping; it will be redelivered", "attempts", attempt)
			return false
		}
		code := failureCode(err)
		if !retryable(err) || attempt >= c.cfg.MaxAttempts {
			log.Warn("kafka event failed", "code", code, "attempts", attempt,
				"source_host", sourceHost(ev.CoverImageURL), "error", err)
			return p.deadLetter(ctx, rec, code, attempt)
		}
		delay := ingest.Backoff(attempt-1, c.cfg.RetryBase, c.cfg.RetryMax, c.rnd)
		c.m.retries.Inc()
		log.Info("kafka event retrying", "code", code, "attempts", attempt, "delay_ms", delay.Milliseconds(), "error", err)
		if !p.sleep(ctx, delay) {
			c.m.failed.Inc()
			log.Warn("kafka event abandoned in backoff; it will be redelivered", "attempts", attempt)
			return false
		}
	}
}

// attempt warms once under the concurrency semaphore, which is held only
// while warming: a record sleeping in backoff lets other partitions run. at
// orders the event's cover (orderTime); when the book already holds a newer
// one, Warm answers with that and the outcome reports it.
func (p *partition) attempt(ctx context.Context, ev Event, at time.Time) (err error) {
	c := p.c
	select {
	case c.sem <- struct{}{}:
	case <-p.quit:
		return errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.sem }()
	c.m.inFlight.Inc()
	defer c.m.inFlight.Dec()
	// A panic in the warm or the outcome fails this event (dead-lettered
	// with code "internal"), not the consumer.
	defer ingest.RecoverTo(&err, c.m.panics, "kafka event "+ev.BookID)

	m, err := c.warm.Warm(ctx, ev.BookID, ev.CoverImageURL, false, at)
	if err != nil {
		// A placeholder, or a source without the picture for a book without
		// a cover, is told before the event ends (committed as refused, or
		// dead-lettered as before for a 404 or 410); when that cannot be
		// recorded the event is retried.
		if r, ok := ingest.RefusalOf(err, ev.BookID, ev.CoverImageURL, at); ok && c.outcomes != nil {
			if oerr := c.outcomes.Refused(ctx, r); oerr != nil {
				return fmt.Errorf("record refusal: %w: %w", ErrOutcome, oerr)
			}
		}
		return err
	}
	if c.outcomes != nil {
		if err := c.outcomes.Succeeded(ctx, m); err != nil {
			return fmt.Errorf("record outcome: %w: %w", ErrOutcome, err)
		}
	}
	return nil
}

// sourceHost is what logs show of a source URL: never its path or query.
func sourceHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "<unparsable>"
	}
	return u.Host
}
