package ingest

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/VictoriaMetrics/metrics"
)

// ErrPanic marks a job whose work panicked; the error carries the panic
// value and the stack. Its code is "internal" and it is not retried.
var ErrPanic = errors.New("ingest: panic")

// RecoverTo is deferred directly by a function that runs work on a
// goroutine of ours (a job's warm here, a Kafka event's attempt in events):
// it turns a panic into *errp, wrapping ErrPanic, and counts it, so that
// work fails alone and the goroutine goes on.
func RecoverTo(errp *error, count *metrics.Counter, what string) {
	if p := recover(); p != nil {
		count.Inc()
		*errp = fmt.Errorf("%s: %w: %v\n%s", what, ErrPanic, p, debug.Stack())
	}
}
