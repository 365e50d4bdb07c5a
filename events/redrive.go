package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// RedriveOptions bound one redrive.
type RedriveOptions struct {
	Max     int       // records to redrive at most; 0 = no count bound
	Since   time.Time // start at the first DLQ record at or after this time; zero = the oldest
	Until   time.Time // stop at DLQ records newer than this; zero = the start of the run
	GroupID string    // group whose committed offsets remember progress; "" = GroupID+"-redrive"
}

// redriveIdle ends a redrive whose partitions deliver nothing for this long
// although their start-time end was not reached (records removed meanwhile).
const redriveIdle = 15 * time.Second

// redrivePart is the progress of one DLQ partition.
type redrivePart struct {
	next, end int64
	done      bool
}

// Redrive copies DLQ records back to cfg.Topic: the original key and value,
// without the DLQ headers but HeaderOriginalTimestamp, so the consumer orders
// a redriven event by the time it first arrived, not by the redrive (a dead
// letter written without that header passes on its own time, the failure).
// It stops at opts.Max records, at the end of the DLQ as it was when it
// started, or at records newer than opts.Until, and commits its progress in
// opts.GroupID so that running it again does not redrive a record twice (a
// record it skips for Since counts as handled).
// It returns how many records it redrove.
func Redrive(ctx context.Context, cfg Config, opts RedriveOptions, logger *slog.Logger, kopts ...kgo.Opt) (int, error) {
	if err := cfg.Validate(); err != nil {
		return 0, fmt.Errorf("redrive: %w", err)
	}
	if opts.Max < 0 {
		return 0, errors.New("redrive: max must not be negative")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	group := opts.GroupID
	if group == "" {
		group = cfg.GroupID + "-redrive"
	}
	until := opts.Until
	if until.IsZero() {
		until = time.Now()
	}
	cl, err := NewProducer(cfg, append([]kgo.Opt{kgo.WithLogger(kgoLogger{logger})}, kopts...)...)
	if err != nil {
		return 0, fmt.Errorf("redrive: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	parts, err := redriveStart(ctx, adm, cfg.DLQTopic, group, opts.Since)
	if err != nil {
		return 0, err
	}
	offsets := make(map[int32]kgo.Offset)
	for p, rp := range parts {
		if !rp.done {
			offsets[p] = kgo.NewOffset().At(rp.next)
		}
	}
	if len(offsets) == 0 {
		logger.Info("redrive: nothing to redrive", "dlq_topic", cfg.DLQTopic, "group", group)
		return 0, nil
	}
	cons, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.WithLogger(kgoLogger{logger}),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.DLQTopic: offsets}),
	}, kopts...)...)
	if err != nil {
		return 0, fmt.Errorf("redrive: %w", err)
	}
	defer cons.Close()

	r := redriver{cfg: cfg, opts: opts, until: until, group: group, parts: parts, prod: cl, adm: adm, log: logger}
	return r.run(ctx, cons)
}

// redriveStart reads where each DLQ partition starts (the latest of log
// start, committed offset and Since) and ends (its end offset now).
func redriveStart(ctx context.Context, adm *kadm.Client, topic, group string, since time.Time) (map[int32]*redrivePart, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("redrive: end offsets of %s: %w", topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("redrive: start offsets of %s: %w", topic, err)
	}
	committed, err := fetchCommitted(ctx, adm, group, topic)
	if err != nil {
		return nil, fmt.Errorf("redrive: %w", err)
	}
	var after kadm.ListedOffsets
	if !since.IsZero() {
		if after, err = adm.ListOffsetsAfterMilli(ctx, since.UnixMilli(), topic); err == nil {
			err = after.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("redrive: offsets after %s: %w", since.Format(time.RFC3339), err)
		}
	}
	parts := make(map[int32]*redrivePart)
	for p, end := range ends[topic] {
		rp := &redrivePart{end: end.Offset}
		if s, ok := starts.Lookup(topic, p); ok {
			rp.next = s.Offset
		}
		if o, ok := committed.Lookup(topic, p); ok && o.At >= 0 {
			rp.next = max(rp.next, o.At)
		}
		if a, ok := after.Lookup(topic, p); ok && a.Offset >= 0 {
			rp.next = max(rp.next, a.Offset)
		}
		rp.done = rp.next >= rp.end
		parts[p] = rp
	}
	return parts, nil
}

type redriver struct {
	cfg   Config
	opts  RedriveOptions
	until time.Time
	group string
	parts map[int32]*redrivePart
	prod  *kgo.Client
	adm   *kadm.Client
	log   *slog.Logger
	count int
}

func (r *redriver) run(ctx context.Context, cons *kgo.Client) (int, error) {
	for !r.finished() {
		pctx, cancel := context.WithTimeout(ctx, redriveIdle)
		fetches := cons.PollRecords(pctx, maxPollRecords)
		cancel()
		if err := ctx.Err(); err != nil {
			return r.count, fmt.Errorf("redrive: %w", err)
		}
		if pctx.Err() != nil && fetches.NumRecords() == 0 {
			r.log.Warn("redrive: DLQ ended before its start-time end offset", "dlq_topic", r.cfg.DLQTopic)
			break
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				r.log.Warn("redrive: fetch failed", "topic", t, "partition", p, "error", err)
			}
		})
		if err := r.forward(ctx, fetches); err != nil {
			return r.count, err
		}
	}
	r.log.Info("redrive done", "dlq_topic", r.cfg.DLQTopic, "topic", r.cfg.Topic, "group", r.group, "records", r.count)
	return r.count, nil
}

func (r *redriver) finished() bool {
	if r.opts.Max > 0 && r.count >= r.opts.Max {
		return true
	}
	for _, rp := range r.parts {
		if !rp.done {
			return false
		}
	}
	return true
}

// forward produces one poll's eligible records to the main topic, then
// commits the progress of every partition that moved.
func (r *redriver) forward(ctx context.Context, fetches kgo.Fetches) error {
	var batch []*kgo.Record
	commit := kadm.Offsets{}
	fetches.EachRecord(func(rec *kgo.Record) {
		rp := r.parts[rec.Partition]
		switch {
		case rp == nil || rp.done || rec.Offset < rp.next:
			return
		case rec.Offset >= rp.end, rec.Timestamp.After(r.until):
			rp.done = true
			return
		case r.opts.Max > 0 && r.count+len(batch) >= r.opts.Max:
			return
		}
		batch = append(batch, &kgo.Record{Topic: r.cfg.Topic, Key: rec.Key, Value: rec.Value, Headers: originalTimeHeader(rec)})
		rp.next = rec.Offset + 1
		rp.done = rp.next >= rp.end
		commit.Add(kadm.Offset{Topic: rec.Topic, Partition: rec.Partition, At: rp.next, LeaderEpoch: -1})
	})
	if len(batch) == 0 {
		return nil
	}
	if err := r.prod.ProduceSync(ctx, batch...).FirstErr(); err != nil {
		return fmt.Errorf("redrive: produce to %s: %w", r.cfg.Topic, err)
	}
	r.count += len(batch)
	if err := r.adm.CommitAllOffsets(ctx, r.group, commit); err != nil {
		return fmt.Errorf("redrive: commit progress of %s: %w", r.group, err)
	}
	return nil
}
