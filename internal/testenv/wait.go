package testenv

import (
	"testing"
	"time"
)

// WaitFor polls cond every 100ms until it holds, and fails the test with
// what and cond's last state when timeout passes first.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (last: %s)", what, timeout, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
