package events

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/bookcovers/image-worker/ingest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Headers of a dead letter.
const (
	HeaderErrorCode       = "error_code"
	HeaderErrorMessage    = "error_message"
	HeaderAttempts        = "attempts"
	HeaderSourceTopic     = "source_topic"
	HeaderSourcePartition = "source_partition"
	HeaderSourceOffset    = "source_offset"
	HeaderFailedAt        = "failed_at"
)

// deadLetterRecord is rec as it goes to the DLQ: key and value unchanged,
// the failure in headers. The message is the code's fixed public text; the
// time the event first arrived goes along (HeaderOriginalTimestamp) for a
// redrive to carry back.
func deadLetterRecord(topic string, rec *kgo.Record, code string, attempts int, failedAt time.Time) *kgo.Record {
	h := func(k, v string) kgo.RecordHeader { return kgo.RecordHeader{Key: k, Value: []byte(v)} }
	return &kgo.Record{
		Topic: topic,
		Key:   rec.Key,
		Value: rec.Value,
		Headers: append([]kgo.RecordHeader{
			h(HeaderErrorCode, code),
			h(HeaderErrorMessage, failureMessage(code)),
			h(HeaderAttempts, strconv.Itoa(attempts)),
			h(HeaderSourceTopic, rec.Topic),
			h(HeaderSourcePartition, strconv.FormatInt(int64(rec.Partition), 10)),
			h(HeaderSourceOffset, strconv.FormatInt(rec.Offset, 10)),
			h(HeaderFailedAt, failedAt.UTC().Format(time.RFC3339Nano)),
		}, originalTimeHeader(rec)...),
	}
}

// deadLetter writes rec to the DLQ, retrying with backoff for as long as the
// DLQ cannot be written: the partition waits (others go on) and nothing is
// committed meanwhile. It returns false if the partition stops first; the
// record is then abandoned uncommitted and delivered again.
func (p *partition) deadLetter(ctx context.Context, rec *kgo.Record, code string, attempts int) bool {
	c := p.c
	failedAt := c.now()
	for try := 0; ; try++ {
		wctx, cancel := context.WithTimeout(ctx, dlqWriteTimeout)
		err := c.prod.ProduceSync(wctx, deadLetterRecord(c.cfg.DLQTopic, rec, code, attempts, failedAt)).FirstErr()
		cancel()
		if err == nil {
			c.m.deadLettered.Inc()
			c.m.deadLetters(code).Inc()
			c.log.Warn("kafka event dead-lettered", "partition", rec.Partition, "offset", rec.Offset,
				"code", code, "attempts", attempts, "dlq_topic", c.cfg.DLQTopic)
			return true
		}
		c.m.dlqWriteErrors.Inc()
		delay := ingest.Backoff(try, c.cfg.RetryBase, c.cfg.RetryMax, c.rnd)
		c.log.Error("kafka dead letter not written; record stays uncommitted", "partition", rec.Partition,
			"offset", rec.Offset, "code", code, "delay_ms", delay.Milliseconds(),
			"error", fmt.Errorf("write dead letter: %w: %w", ErrDLQUnavailable, err))
		if !p.sleep(ctx, delay) {
			c.m.failed.Inc()
			return false
		}
	}
}
