package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// lagTimeout bounds one lag computation.
const lagTimeout = 10 * time.Second

// lagLoop computes the lag gauges at once and then every LagInterval until
// ctx ends.
func (c *Consumer) lagLoop(ctx context.Context) {
	t := time.NewTicker(c.cfg.LagInterval)
	defer t.Stop()
	for {
		if err := c.updateLag(ctx); err != nil && ctx.Err() == nil {
			c.m.lagErrors.Inc()
			c.log.Warn("kafka lag not computed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// updateLag sets covers_kafka_lag_records per partition of the topic: the
// high watermark minus the group's committed offset (minus the log start
// when the group has committed nothing there yet). This is the number an
// autoscaler such as KEDA scales on.
func (c *Consumer) updateLag(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, min(lagTimeout, max(c.cfg.LagInterval, time.Second)))
	defer cancel()
	ends, err := c.adm.ListEndOffsets(ctx, c.cfg.Topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("lag: end offsets: %w", err)
	}
	starts, err := c.adm.ListStartOffsets(ctx, c.cfg.Topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("lag: start offsets: %w", err)
	}
	committed, err := fetchCommitted(ctx, c.adm, c.cfg.GroupID, c.cfg.Topic)
	if err != nil {
		return fmt.Errorf("lag: %w", err)
	}
	for p, end := range ends[c.cfg.Topic] {
		from := int64(0)
		if s, ok := starts.Lookup(c.cfg.Topic, p); ok {
			from = s.Offset
		}
		if o, ok := committed.Lookup(c.cfg.Topic, p); ok && o.At >= 0 {
			from = max(from, o.At)
		}
		c.m.lag(p).Set(float64(max(0, end.Offset-from)))
	}
	return nil
}

// fetchCommitted returns a group's committed offsets of topic; a group that
// does not exist yet has committed nothing (some brokers answer
// GROUP_ID_NOT_FOUND, others an empty commit).
func fetchCommitted(ctx context.Context, adm *kadm.Client, group, topic string) (kadm.OffsetResponses, error) {
	committed, err := adm.FetchOffsetsForTopics(ctx, group, topic)
	if err == nil {
		err = committed.Error()
	}
	switch {
	case errors.Is(err, kerr.GroupIDNotFound):
		return kadm.OffsetResponses{}, nil
	case err != nil:
		return nil, fmt.Errorf("committed offsets of %s: %w", group, err)
	}
	return committed, nil
}
