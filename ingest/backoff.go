package ingest

import (
	"math"
	"math/rand/v2"
	"time"
)

// Backoff returns the delay before retry number attempt (0 for the first
// retry) with exponential backoff and full jitter: a uniform draw from
// [0, min(maxDelay, base*2^attempt)]. rnd(n) must return a value in [0, n);
// nil uses math/rand/v2. Non-positive base or maxDelay give no delay.
func Backoff(attempt int, base, maxDelay time.Duration, rnd func(int64) int64) time.Duration {
	if base <= 0 || maxDelay <= 0 {
		return 0
	}
	if attempt < 0 {
		attempt = 0
	}
	ceiling := maxDelay
	if attempt < 63 {
		if c := base << attempt; c > 0 && c>>attempt == base && c < maxDelay {
			ceiling = c
		}
	}
	if rnd == nil {
		rnd = rand.Int64N
	}
	n := int64(ceiling)
	if n < math.MaxInt64 {
		n++
	}
	d := time.Duration(rnd(n))
	switch {
	case d < 0:
		return 0
	case d > ceiling:
		return ceiling
	}
	return d
}
