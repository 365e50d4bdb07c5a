package ingest

import (
	"math"
	"testing"
	"time"
)

func TestBackoffFullJitterBounds(t *testing.T) {
	t.Parallel()
	base, maxDelay := 200*time.Millisecond, 2*time.Second
	highest := func(n int64) int64 { return n - 1 }
	lowest := func(int64) int64 { return 0 }
	tests := []struct {
		attempt int
		ceiling time.Duration
	}{
		{0, 200 * time.Millisecond},
		{1, 400 * time.Millisecond},
		{2, 800 * time.Millisecond},
		{3, 1600 * time.Millisecond},
		{4, 2 * time.Second},
		{40, 2 * time.Second},
		{62, 2 * time.Second},
		{1000, 2 * time.Second},
		{-1, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := Backoff(tt.attempt, base, maxDelay, highest); got != tt.ceiling {
			t.Errorf("Backoff(%d) with highest draw = %s, want ceiling %s", tt.attempt, got, tt.ceiling)
		}
		if got := Backoff(tt.attempt, base, maxDelay, lowest); got != 0 {
			t.Errorf("Backoff(%d) with lowest draw = %s, want 0", tt.attempt, got)
		}
		for i := 0; i < 200; i++ {
			if got := Backoff(tt.attempt, base, maxDelay, nil); got < 0 || got > tt.ceiling {
				t.Fatalf("Backoff(%d) = %s, want within [0, %s]", tt.attempt, got, tt.ceiling)
			}
		}
	}
}

func TestBackoffDegenerate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		base, maxDelay time.Duration
		rnd            func(int64) int64
		want           time.Duration
	}{
		{"no base", 0, time.Second, nil, 0},
		{"no max", time.Second, 0, nil, 0},
		{"base above max caps", 5 * time.Second, time.Second, func(n int64) int64 { return n - 1 }, time.Second},
		{"rnd out of range clamps high", time.Second, time.Second, func(int64) int64 { return math.MaxInt64 }, time.Second},
		{"rnd negative clamps low", time.Second, time.Second, func(int64) int64 { return -5 }, 0},
		{"huge max", time.Second, time.Duration(math.MaxInt64), func(n int64) int64 { return n - 1 }, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Backoff(0, tt.base, tt.maxDelay, tt.rnd); got != tt.want {
				t.Errorf("Backoff(0, %s, %s) = %s, want %s", tt.base, tt.maxDelay, got, tt.want)
			}
		})
	}
}
