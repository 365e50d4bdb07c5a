package loadloop

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunEndsByItself(t *testing.T) {
	cases := []struct {
		name      string
		cfg       Config
		wantCalls int
	}{
		{"one call per worker", Config{Workers: 7, Each: 1}, 7},
		{"three calls per worker", Config{Workers: 4, Each: 3}, 12},
		{"a total shared by the workers", Config{Workers: 16, Total: 50}, 50},
		{"fewer jobs than workers", Config{Workers: 16, Total: 3}, 3},
		{"Each and Total: the first reached", Config{Workers: 2, Each: 5, Total: 100}, 10},
		{"no worker asked for: one", Config{Each: 2}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var seqs []int
			perWorker := map[int][]int{}
			counts := Run(c.cfg, func(call Call) string {
				mu.Lock()
				seqs = append(seqs, call.Seq)
				perWorker[call.Worker] = append(perWorker[call.Worker], call.Iter)
				mu.Unlock()
				if call.Seq%2 == 0 {
					return "even"
				}
				return "odd"
			})
			if got := counts.Sum(); got != c.wantCalls {
				t.Errorf("Run(%+v) counted %d calls (%v), want %d", c.cfg, got, counts, c.wantCalls)
			}
			if got := counts.Sum("even", "odd"); got != c.wantCalls {
				t.Errorf("Sum(even, odd) = %d, want %d", got, c.wantCalls)
			}
			if want := (c.wantCalls + 1) / 2; counts["even"] != want {
				t.Errorf("even outcomes = %d, want %d", counts["even"], want)
			}
			slices.Sort(seqs)
			for i, s := range seqs {
				if s != i {
					t.Fatalf("call numbers %v, want 0 to %d once each", seqs, c.wantCalls-1)
				}
			}
			for w, iters := range perWorker {
				if w < 0 || w >= max(c.cfg.Workers, 1) {
					t.Errorf("worker %d, want 0 to %d", w, max(c.cfg.Workers, 1)-1)
				}
				for i, it := range iters {
					if it != i {
						t.Errorf("worker %d numbered its calls %v, want 0, 1, 2...", w, iters)
						break
					}
				}
			}
		})
	}
}

func TestStartRunsUntilStop(t *testing.T) {
	var running atomic.Int32
	l := Start(Config{Workers: 3}, func(Call) string {
		running.Add(1)
		defer running.Add(-1)
		time.Sleep(time.Millisecond)
		return "done"
	})
	time.Sleep(50 * time.Millisecond)
	if l.Counts().Sum() == 0 {
		t.Error("no call counted 50ms after Start")
	}
	counts := l.Stop()
	if n := running.Load(); n != 0 {
		t.Errorf("%d calls still running after Stop returned", n)
	}
	if again := l.Stop(); again.Sum() != counts.Sum() {
		t.Errorf("second Stop = %v, first %v: want the same counts", again, counts)
	}
	if counts.Sum() != counts["done"] || counts.Sum() < 3 {
		t.Errorf("counts = %v, want only done, at least once per worker", counts)
	}
}

func TestEmptyOutcomeIsNotCounted(t *testing.T) {
	counts := Run(Config{Workers: 4, Each: 2}, func(c Call) string {
		if c.Worker == 0 {
			return ""
		}
		return "counted"
	})
	if counts.Sum() != 6 || counts["counted"] != 6 || len(counts) != 1 {
		t.Errorf("counts = %v, want 6 counted and nothing else", counts)
	}
}

func TestWorkersStartTogether(t *testing.T) {
	const n = 20
	var arrived atomic.Int32
	all := make(chan struct{})
	counts := Run(Config{Workers: n, Each: 1}, func(Call) string {
		if arrived.Add(1) == n {
			close(all)
		}
		select {
		case <-all:
			return "together"
		case <-time.After(10 * time.Second):
			return "alone"
		}
	})
	if counts["together"] != n {
		t.Errorf("counts = %v, want %d calls running at once", counts, n)
	}
}

func TestPauseIsCutShortByStop(t *testing.T) {
	l := Start(Config{Workers: 2, Pause: time.Hour}, func(Call) string { return "round" })
	for l.Counts().Sum() < 2 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	counts := l.Stop()
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Stop during an hour's pause took %v, want at once", took)
	}
	if counts["round"] != 2 {
		t.Errorf("counts = %v, want one round per worker before the pause", counts)
	}
}
