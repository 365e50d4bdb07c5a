package transform

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
)

// gate bounds the work libvips does at once: at most `workers` renders run
// and at most `queue` wait for a slot. A caller arriving when the queue is
// full gets ErrOverloaded at once instead of a goroutine parked on a channel;
// a waiting caller gives up when its context ends. This is imgproxy's
// workers.go pattern (a try-acquire on the admission semaphore, then a
// context-aware acquire on the worker semaphore) with channels.
type gate struct {
	admit   chan struct{} // capacity workers+queue: running plus waiting
	slots   chan struct{} // capacity workers: running
	waiting atomic.Int64
	running atomic.Int64
}

func newGate(workers, queue int) *gate {
	return &gate{
		admit: make(chan struct{}, workers+queue),
		slots: make(chan struct{}, workers),
	}
}

// errTaken: a caller's request was taken into another caller's operation
// while it waited (batch.go); it holds no slot.
var errTaken = errors.New("taken into another render")

// acquire waits for a render slot. On success the caller must call release
// exactly once.
func (g *gate) acquire(ctx context.Context) (release func(), err error) {
	return g.acquireOr(ctx, nil)
}

// acquireOr is acquire that also leaves the queue, with errTaken, when stop
// (may be nil) is closed while the caller waits.
func (g *gate) acquireOr(ctx context.Context, stop <-chan struct{}) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("transform gate: %w", err)
	}
	select {
	case g.admit <- struct{}{}:
	default:
		return nil, fmt.Errorf("transform gate: %d running, %d waiting: %w",
			g.running.Load(), g.waiting.Load(), ErrOverloaded)
	}
	g.waiting.Add(1)
	select {
	case g.slots <- struct{}{}:
		g.waiting.Add(-1)
	case <-ctx.Done():
		g.waiting.Add(-1)
		<-g.admit
		return nil, fmt.Errorf("transform gate: waiting for a render slot: %w", ctx.Err())
	case <-stop:
		g.waiting.Add(-1)
		<-g.admit
		return nil, errTaken
	}
	g.running.Add(1)
	release = func() {
		g.running.Add(-1)
		<-g.slots
		<-g.admit
	}
	// Both cases may be ready at once and select picks at random: do not
	// start work for a caller that has already gone.
	if err := ctx.Err(); err != nil {
		release()
		return nil, fmt.Errorf("transform gate: %w", err)
	}
	return release, nil
}

// queueDepth is the number of callers waiting for a slot.
func (g *gate) queueDepth() int64 { return g.waiting.Load() }

// inFlight is the number of callers holding a slot.
func (g *gate) inFlight() int64 { return g.running.Load() }
