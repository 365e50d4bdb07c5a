package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/bookcovers/image-worker/cover"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Warmer is the warm pipeline shared with POST /process (ingest.Warmer); at
// is the event's order time (Event.OrderTime).
type Warmer interface {
	Warm(ctx context.Context, bookID, imageURL string, refresh bool, at time.Time) (cover.Manifest, error)
}

const (
	// maxPollRecords bounds one poll; maxQueued bounds what one partition
	// holds in memory before its fetching is paused.
	maxPollRecords = 500
	maxQueued      = 1000
	// commitTimeout, leaveTimeout and dlqWriteTimeout bound one commit, the
	// final leave and one dead-letter write.
	commitTimeout   = 10 * time.Second
	leaveTimeout    = 10 * time.Second
	dlqWriteTimeout = 10 * time.Second
)

// Consumer consumes the book_enriched topic in a consumer group: one
// goroutine per assigned partition keeps order within the partition, a
// semaphore bounds warms across partitions, and each record's offset is
// committed once its outcome is final (succeeded, skipped or dead-lettered).
type Consumer struct {
	cfg      Config
	warm     Warmer
	outcomes Outcomes
	log      *slog.Logger
	cl       *kgo.Client // group consumer; also the admin client for lag
	prod     *kgo.Client // dead letters
	adm      *kadm.Client
	m        *consumerMetrics
	sem      chan struct{}
	rnd      func(int64) int64 // backoff jitter; nil -> math/rand/v2
	now      func() time.Time

	mu      sync.Mutex
	parts   map[int32]*partition
	closing bool
}

// NewConsumer validates cfg and builds the consumer's clients. outcomes may
// be nil. opts are added to every client it builds (tests tune timings).
func NewConsumer(cfg Config, warm Warmer, outcomes Outcomes, logger *slog.Logger, opts ...kgo.Opt) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new consumer: %w", err)
	}
	if warm == nil {
		return nil, errors.New("new consumer: nil warmer")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Consumer{
		cfg:      cfg,
		warm:     warm,
		outcomes: outcomes,
		log:      logger.With("topic", cfg.Topic),
		m:        newConsumerMetrics(),
		sem:      make(chan struct{}, cfg.Concurrency),
		now:      time.Now,
		parts:    make(map[int32]*partition),
	}
	prod, err := NewProducer(cfg, append([]kgo.Opt{kgo.WithLogger(kgoLogger{logger})}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("new consumer: %w", err)
	}
	all := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID("image-worker"),
		kgo.WithLogger(kgoLogger{logger}),
		kgo.ConsumerGroup(cfg.GroupID),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(c.assigned),
		kgo.OnPartitionsRevoked(c.revoked),
		kgo.OnPartitionsLost(c.lost),
	}, opts...)
	cl, err := kgo.NewClient(all...)
	if err != nil {
		prod.Close()
		return nil, fmt.Errorf("new consumer: %w", err)
	}
	c.cl, c.prod, c.adm = cl, prod, kadm.NewClient(cl)
	return c, nil
}

// Metrics returns the consumer's metrics.
func (c *Consumer) Metrics() *metrics.Set { return c.m.set }

// Ping reports whether a broker answers (for /ready).
func (c *Consumer) Ping(ctx context.Context) error {
	if err := c.cl.Ping(ctx); err != nil {
		return fmt.Errorf("kafka ping: %w", err)
	}
	return nil
}

// Close closes the clients. Call it once, after Run has returned.
func (c *Consumer) Close() {
	c.cl.Close()
	c.prod.Close()
}

// Run consumes until ctx ends. Then it stops taking records, lets in-flight
// ones finish within ShutdownGrace (the rest are abandoned uncommitted and
// will be redelivered), commits what is done, leaves the group and returns
// nil. Run is called once.
func (c *Consumer) Run(ctx context.Context) error {
	lagCtx, stopLag := context.WithCancel(ctx)
	lagDone := make(chan struct{})
	go func() {
		defer close(lagDone)
		c.lagLoop(lagCtx)
	}()
	defer func() {
		stopLag()
		<-lagDone
	}()

	c.log.Info("kafka consumer started", "group", c.cfg.GroupID, "concurrency", c.cfg.Concurrency)
	for {
		fetches := c.cl.PollRecords(ctx, maxPollRecords)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			break
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				c.log.Warn("kafka fetch failed", "topic", topic, "partition", p, "error", err)
			}
		})
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			if len(fp.Records) == 0 {
				return
			}
			c.mu.Lock()
			p := c.parts[fp.Partition]
			c.mu.Unlock()
			if p == nil {
				// BlockRebalanceOnPoll makes this impossible: a worker exists
				// for every partition we are given records of.
				c.log.Error("records of an unassigned partition dropped", "partition", fp.Partition)
				return
			}
			p.enqueue(fp.Records)
		})
		c.cl.AllowRebalance()
	}
	c.shutdown()
	return nil
}

// shutdown stops every partition, then leaves the group.
func (c *Consumer) shutdown() {
	c.mu.Lock()
	c.closing = true
	parts := c.parts
	c.parts = make(map[int32]*partition)
	c.mu.Unlock()
	stopAll(parts, c.cfg.ShutdownGrace)

	c.cl.AllowRebalance()
	ctx, cancel := context.WithTimeout(context.Background(), leaveTimeout)
	defer cancel()
	if err := c.cl.LeaveGroupContext(ctx); err != nil {
		c.log.Warn("kafka leave group failed", "group", c.cfg.GroupID, "error", err)
	}
	c.log.Info("kafka consumer stopped", "group", c.cfg.GroupID)
}

// assigned starts a worker for each new partition.
func (c *Consumer) assigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	for _, id := range assigned[c.cfg.Topic] {
		if _, ok := c.parts[id]; ok {
			continue
		}
		p := newPartition(c, id)
		c.parts[id] = p
		p.start()
		c.log.Info("kafka partition assigned", "partition", id)
	}
}

// revoked stops the workers of revoked partitions: in-flight records get
// ShutdownGrace to finish and are committed; the rest are left to the next
// owner.
func (c *Consumer) revoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	stopAll(c.take(revoked), c.cfg.ShutdownGrace)
}

// lost abandons the workers of lost partitions at once, without commits:
// another member may already own them.
func (c *Consumer) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	parts := c.take(lost)
	for _, p := range parts {
		p.lost.Store(true)
	}
	stopAll(parts, 0)
}

// take removes the workers of the given partitions from the consumer.
func (c *Consumer) take(tps map[string][]int32) map[int32]*partition {
	c.mu.Lock()
	defer c.mu.Unlock()
	taken := make(map[int32]*partition)
	for _, id := range tps[c.cfg.Topic] {
		if p, ok := c.parts[id]; ok {
			taken[id] = p
			delete(c.parts, id)
		}
	}
	return taken
}

// stopAll stops partitions together: no new records at once, then a shared
// grace period for in-flight work, then the rest is abandoned.
func stopAll(parts map[int32]*partition, grace time.Duration) {
	for _, p := range parts {
		p.requestStop()
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	for _, p := range parts {
		select {
		case <-p.done:
			continue
		case <-timer.C:
		}
		// Grace is over: abandon what is left.
		for _, q := range parts {
			q.abandon()
		}
		break
	}
	for _, p := range parts {
		<-p.done
	}
}
