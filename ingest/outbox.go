package ingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
)

// Deliverer carries a recorded effect to the systems outside: the result
// event and the catalog write-back (events.Notifier). Each must be safe to
// repeat: delivery is at-least-once. JobFailed writes the job's
// CoverStatus, when it has one, like Refused.
type Deliverer interface {
	Succeeded(ctx context.Context, m cover.Manifest) error
	JobFailed(ctx context.Context, job Job) error
	Refused(ctx context.Context, r Refusal) error
}

// OutboxKind is what an outbox entry reports.
type OutboxKind string

// Outbox entry kinds.
const (
	OutboxSucceeded OutboxKind = "succeeded" // a stored cover: result event and catalog update
	OutboxFailed    OutboxKind = "failed"    // a failed job: failed result event (and its cover_status)
	OutboxRefused   OutboxKind = "refused"   // a Refusal outside a job: failed result event, cover_status
)

// OutboxEntry is one effect waiting for delivery, stored at
// outbox/{id}.json until it is delivered.
type OutboxEntry struct {
	Kind     OutboxKind      `json:"kind"`
	Manifest *cover.Manifest `json:"manifest,omitempty"` // succeeded
	Job      *Job            `json:"job,omitempty"`      // the job, when a job had this effect; its error when failed
	Refusal  *Refusal        `json:"refusal,omitempty"`  // refused
	// CreatedAt is when the effect was recorded; Attempts counts failed
	// deliveries, NextAttemptAt is when the next may start.
	CreatedAt     time.Time `json:"created_at"`
	Attempts      int       `json:"attempts"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
	LastError     string    `json:"last_error,omitempty"`
	// Owner holds the entry until ClaimUntil while it delivers it.
	Owner      string    `json:"owner,omitempty"`
	ClaimUntil time.Time `json:"claim_until,omitzero"`
}

// Outbox makes write-backs durable. Recording an effect (JobSucceeded,
// JobFailed, Succeeded: it is an ingest.Notifier and the Kafka consumer's
// outcomes) writes one entry under outbox/ in the object store before it
// returns nil; a store error is returned so the caller keeps its work
// pending. Started (Start), it delivers entries in the background through
// its Deliverer and deletes each once delivered; a failed delivery is kept
// and retried with exponential backoff and full jitter up to RetryMax,
// forever. It lists outbox/ at start and every ScanInterval, so entries of a
// dead replica, of `image-worker import` or of a backfill are delivered by
// any serving replica. A replica claims an entry with a conditional write
// (owner and claim expiry, If-Match on the ETag it read) before delivering
// it, so two replicas do not deliver one entry at once; a claim that
// expired (its owner died) is taken over. Delivery is at-least-once.
type Outbox struct {
	cfg     OutboxConfig
	store   cache.Store
	deliver Deliverer // nil: record only
	log     *slog.Logger
	now     func() time.Time

	mu       sync.Mutex
	known    map[string]*tracked // pending entries this replica knows, by key
	overflow int                 // entries the last scan found beyond MaxTracked
	scanGen  uint64
	started  bool

	wake    chan struct{} // pokes the dispatcher
	queue   chan string   // due keys for the workers
	closing chan struct{}
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	set                                       *metrics.Set
	recorded, delivered, deliveryErrs, panics *metrics.Counter
}

// tracked is what a replica remembers of a pending entry.
type tracked struct {
	created time.Time // from the key
	next    time.Time // not looked at again before this
	busy    bool      // queued or being attempted
	gen     uint64    // last scan that saw it
	added   time.Time // when this replica learnt of it
	errs    int       // store errors in a row, for their backoff
}

// NewOutbox returns an outbox over store. deliver may be nil for a process
// that only records (import, backfill); such an outbox cannot be started.
func NewOutbox(cfg OutboxConfig, store cache.Store, deliver Deliverer, logger *slog.Logger) (*Outbox, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Owner == "" {
		cfg.Owner = defaultOwner()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	set := metrics.NewSet()
	o := &Outbox{
		cfg: cfg, store: store, deliver: deliver, log: logger, now: time.Now,
		known: map[string]*tracked{},
		wake:  make(chan struct{}, 1), queue: make(chan string, cfg.Workers), closing: make(chan struct{}),
		set:          set,
		recorded:     set.NewCounter(`covers_outbox_recorded_total`),
		delivered:    set.NewCounter(`covers_outbox_delivered_total`),
		deliveryErrs: set.NewCounter(`covers_outbox_delivery_errors_total`),
		panics:       set.NewCounter(`covers_panics_total{component="outbox"}`),
	}
	set.NewGauge(`covers_outbox_pending`, func() float64 {
		o.mu.Lock()
		defer o.mu.Unlock()
		return float64(len(o.known) + o.overflow)
	})
	set.NewGauge(`covers_outbox_oldest_age_seconds`, func() float64 {
		o.mu.Lock()
		defer o.mu.Unlock()
		var oldest time.Time
		for _, t := range o.known {
			if oldest.IsZero() || t.created.Before(oldest) {
				oldest = t.created
			}
		}
		if oldest.IsZero() {
			return 0
		}
		return max(0, o.now().Sub(oldest).Seconds())
	})
	return o, nil
}

// Metrics returns the outbox metrics.
func (o *Outbox) Metrics() *metrics.Set { return o.set }

// JobSucceeded records the write-back of a finished POST /process job.
func (o *Outbox) JobSucceeded(ctx context.Context, job Job, m cover.Manifest) error {
	return o.record(ctx, OutboxEntry{Kind: OutboxSucceeded, Manifest: &m, Job: &job})
}

// JobFailed records the failed result of a POST /process job.
func (o *Outbox) JobFailed(ctx context.Context, job Job) error {
	return o.record(ctx, OutboxEntry{Kind: OutboxFailed, Job: &job})
}

// Succeeded records the write-back of a stored cover (Kafka, import, backfill).
func (o *Outbox) Succeeded(ctx context.Context, m cover.Manifest) error {
	return o.record(ctx, OutboxEntry{Kind: OutboxSucceeded, Manifest: &m})
}

// RecordStored queues the write-back of a cover a command stored (import,
// an in-process backfill) for the serving replicas to deliver. A nil
// Outbox (nothing is written back) records nothing.
func (o *Outbox) RecordStored(ctx context.Context, m cover.Manifest) error {
	if o == nil {
		return nil
	}
	if err := o.Succeeded(ctx, m); err != nil {
		return fmt.Errorf("stored %s version %s, but its write-back was not queued: %w", m.BookID, m.Version, err)
	}
	return nil
}

// Refused records the write-back of a Refusal (Kafka, backfill): the
// failed result event and, when it has one, the catalog's cover_status.
func (o *Outbox) Refused(ctx context.Context, r Refusal) error {
	return o.record(ctx, OutboxEntry{Kind: OutboxRefused, Refusal: &r})
}

// record writes the entry; once it returns nil the effect is durably queued.
func (o *Outbox) record(ctx context.Context, e OutboxEntry) error {
	now := o.now().UTC()
	e.CreatedAt, e.NextAttemptAt = now, now
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("outbox record: %w", err)
	}
	key := cache.OutboxKey(newOutboxID(now))
	sctx, cancel := context.WithTimeout(ctx, o.cfg.StoreTimeout)
	defer cancel()
	if _, err := o.store.PutIf(sctx, key, data, "application/json", cache.Condition{IfNoneMatch: true}); err != nil {
		return fmt.Errorf("outbox record %s: %w", e.bookID(), err)
	}
	o.recorded.Inc()
	o.track(key, now)
	return nil
}

// track hands a just-recorded entry straight to a worker when one is free,
// else to the dispatcher; entries beyond MaxTracked wait for a scan.
func (o *Outbox) track(key string, now time.Time) {
	o.mu.Lock()
	if !o.started || len(o.known) >= o.cfg.MaxTracked {
		o.mu.Unlock()
		return
	}
	t := &tracked{created: now, next: now, added: now, gen: o.scanGen, busy: true}
	o.known[key] = t
	o.mu.Unlock()
	select {
	case o.queue <- key:
		return
	default:
	}
	o.mu.Lock()
	t.busy = false
	o.mu.Unlock()
	o.poke()
}

func (o *Outbox) poke() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Start starts delivering: a scan of outbox/ at once and every ScanInterval,
// in the background (it never blocks start-up), and Workers deliveries at
// once. Call Stop to end it.
func (o *Outbox) Start() error {
	if o.deliver == nil {
		return errors.New("outbox start: no deliverer (record-only outbox)")
	}
	o.mu.Lock()
	if o.started {
		o.mu.Unlock()
		return errors.New("outbox start: already started")
	}
	o.started = true
	o.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	o.cancel = cancel
	o.wg.Add(2 + o.cfg.Workers)
	go o.scanLoop(ctx)
	go o.dispatchLoop(ctx)
	for range o.cfg.Workers {
		go o.work(ctx)
	}
	return nil
}

// Stop stops the background delivery: deliveries in flight get until ctx
// ends, then they are cancelled and Stop returns without waiting for a
// deliverer that ignores its context (a Kafka produce already sent to a
// broker that died); closing the outlets ends those. Entries not delivered
// stay in the store for the next start or another replica.
func (o *Outbox) Stop(ctx context.Context) error {
	o.mu.Lock()
	started := o.started
	o.mu.Unlock()
	if !started {
		return nil
	}
	close(o.closing)
	done := make(chan struct{})
	go func() { o.wg.Wait(); close(done) }()
	select {
	case <-done:
		o.cancel()
		return nil
	case <-ctx.Done():
		o.cancel()
		return fmt.Errorf("stop outbox: %w", ctx.Err())
	}
}

func (e OutboxEntry) bookID() string {
	switch {
	case e.Manifest != nil:
		return e.Manifest.BookID
	case e.Job != nil:
		return e.Job.BookID
	case e.Refusal != nil:
		return e.Refusal.BookID
	}
	return ""
}

// outboxTimeDigits is the width of the creation time (Unix nanoseconds) that
// starts every entry id, so keys sort oldest first.
const outboxTimeDigits = 19

func newOutboxID(now time.Time) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux.
	return fmt.Sprintf("%0*d-%s", outboxTimeDigits, now.UnixNano(), hex.EncodeToString(b[:]))
}

// outboxCreated reads the creation time back from a key; ok is false for a
// key not made by newOutboxID.
func outboxCreated(key string) (time.Time, bool) {
	id := key[len(cache.OutboxPrefix()):]
	if len(id) < outboxTimeDigits {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(id[:outboxTimeDigits], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, n).UTC(), true
}
