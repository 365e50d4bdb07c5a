package events

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// partition is the worker of one assigned partition: it takes the records of
// its queue in order, runs each to a final outcome and commits its offset.
// The poll loop only appends to the queue, so a slow or retrying record never
// blocks the other partitions; a long queue pauses fetching of the partition.
type partition struct {
	c  *Consumer
	id int32

	mu     sync.Mutex
	queue  []*kgo.Record
	paused bool
	wake   chan struct{} // cap 1: the queue grew

	quit     chan struct{} // closed: take no new record, sleep no more
	quitOnce sync.Once
	cancel   context.CancelFunc // abandons in-flight work
	done     chan struct{}      // closed when the worker has returned
	lost     atomic.Bool        // partition lost: commit nothing more

	pending *kgo.Record // done but not yet committed (worker goroutine only)
}

func newPartition(c *Consumer, id int32) *partition {
	return &partition{
		c:    c,
		id:   id,
		wake: make(chan struct{}, 1),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
}

// start runs the worker. Its work context is detached from any caller: only
// abandon cancels it.
func (p *partition) start() {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go func() {
		defer close(p.done)
		defer cancel()
		p.run(ctx)
	}()
}

func (p *partition) requestStop() { p.quitOnce.Do(func() { close(p.quit) }) }

func (p *partition) abandon() {
	p.requestStop()
	p.cancel()
}

func (p *partition) stopping() bool {
	select {
	case <-p.quit:
		return true
	default:
		return false
	}
}

// enqueue appends polled records; past maxQueued it pauses fetching of the
// partition (paused data stays unconsumed in Kafka and is fetched again).
func (p *partition) enqueue(recs []*kgo.Record) {
	p.mu.Lock()
	p.queue = append(p.queue, recs...)
	pause := len(p.queue) >= maxQueued && !p.paused
	if pause {
		p.paused = true
	}
	p.mu.Unlock()
	if pause {
		p.c.cl.PauseFetchPartitions(map[string][]int32{p.c.cfg.Topic: {p.id}})
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// next returns the next record, or false once the partition is stopping.
func (p *partition) next() (*kgo.Record, bool) {
	for {
		if p.stopping() {
			return nil, false
		}
		p.mu.Lock()
		if len(p.queue) > 0 {
			rec := p.queue[0]
			p.queue[0] = nil
			p.queue = p.queue[1:]
			resume := p.paused && len(p.queue) <= maxQueued/2
			if resume {
				p.paused = false
			}
			p.mu.Unlock()
			if resume {
				p.c.cl.ResumeFetchPartitions(map[string][]int32{p.c.cfg.Topic: {p.id}})
			}
			return rec, true
		}
		p.mu.Unlock()
		select {
		case <-p.wake:
		case <-p.quit:
			return nil, false
		}
	}
}

func (p *partition) run(ctx context.Context) {
	defer p.finish()
	for {
		rec, ok := p.next()
		if !ok {
			return
		}
		if !p.handle(ctx, rec) {
			return // abandoned: neither this record nor later ones are committed
		}
		p.commit(rec)
	}
}

// commit commits the offset after rec. A failed commit is kept and retried
// with the next record or when the worker stops; until then a restart
// redelivers, which warming tolerates.
func (p *partition) commit(rec *kgo.Record) {
	p.pending = rec
	if p.lost.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	if err := p.c.cl.CommitRecords(ctx, rec); err != nil {
		p.c.m.commitErrors.Inc()
		p.c.log.Warn("kafka commit failed", "partition", p.id, "offset", rec.Offset, "error", err)
		return
	}
	p.pending = nil
}

// finish retries a pending commit and lifts a pause, so a partition assigned
// again later is fetched.
func (p *partition) finish() {
	if p.pending != nil {
		p.commit(p.pending)
	}
	p.mu.Lock()
	paused := p.paused
	p.paused, p.queue = false, nil
	p.mu.Unlock()
	if paused {
		p.c.cl.ResumeFetchPartitions(map[string][]int32{p.c.cfg.Topic: {p.id}})
	}
}

// sleep waits d unless the partition stops or its work is abandoned first.
func (p *partition) sleep(ctx context.Context, d time.Duration) bool {
	if p.stopping() {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.quit:
		return false
	case <-ctx.Done():
		return false
	}
}
