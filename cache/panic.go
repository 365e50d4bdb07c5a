package cache

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/VictoriaMetrics/metrics"
)

// ErrPanic marks shared work (a fill, a load, a write behind a response)
// that panicked. The error carries the panic value and the stack, so the
// caller's log line has both.
var ErrPanic = errors.New("panic")

// recoverTo is deferred directly by the function a goroutine or a
// singleflight runs: a panic there would end the process (nothing above it
// recovers; singleflight.DoChan re-panics on a goroutine of its own). It
// turns the panic into *errp, wrapping ErrPanic, and counts it, so the work
// fails alone.
func recoverTo(errp *error, count *metrics.Counter, what string) {
	if p := recover(); p != nil {
		count.Inc()
		*errp = fmt.Errorf("%s: %w: %v\n%s", what, ErrPanic, p, debug.Stack())
	}
}

// panicCounter is covers_panics_total for one component.
func panicCounter(set *metrics.Set, component string) *metrics.Counter {
	return set.NewCounter(fmt.Sprintf(`covers_panics_total{component=%q}`, component))
}
