package loadloop

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"
)

// Config says how many workers call the function and when each stops.
// With neither Each nor Total the workers run until Stop.
type Config struct {
	Workers int           // goroutines calling the function; at least 1
	Each    int           // calls per worker; 0: no limit
	Total   int           // calls of all workers together; 0: no limit
	Pause   time.Duration // each worker's wait after each call, cut short by Stop
}

// Call tells the function which call it is making.
type Call struct {
	Worker int // the worker: 0 to Workers-1
	Iter   int // the worker's own calls before this one
	Seq    int // the calls of all workers begun before this one
}

// Counts maps each outcome the function returned to the number of calls that
// returned it. An empty outcome is not counted.
type Counts map[string]int

// Sum is the number of calls that returned any of outcomes, or any outcome
// at all when none is named.
func (c Counts) Sum(outcomes ...string) int {
	n := 0
	if len(outcomes) == 0 {
		for _, v := range c {
			n += v
		}
	}
	for _, o := range outcomes {
		n += c[o]
	}
	return n
}

// Loop is a running load.
type Loop struct {
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	seq      atomic.Int64

	mu     sync.Mutex
	counts Counts
}

// Start starts cfg.Workers goroutines, releases them together once all are
// running, and has each call call until Stop, its Each calls, or the
// loop's Total. A worker checks for Stop before each call; a call under way
// is never interrupted. call may run concurrently with itself and must not
// call t.Fatal (t.Error is fine).
func Start(cfg Config, call func(Call) string) *Loop {
	l := &Loop{stop: make(chan struct{}), counts: Counts{}}
	gate := make(chan struct{})
	for w := range max(cfg.Workers, 1) {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			<-gate
			for i := 0; cfg.Each == 0 || i < cfg.Each; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				seq := int(l.seq.Add(1) - 1)
				if cfg.Total > 0 && seq >= cfg.Total {
					return
				}
				if outcome := call(Call{Worker: w, Iter: i, Seq: seq}); outcome != "" {
					l.mu.Lock()
					l.counts[outcome]++
					l.mu.Unlock()
				}
				if cfg.Pause > 0 {
					select {
					case <-l.stop:
						return
					case <-time.After(cfg.Pause):
					}
				}
			}
		}()
	}
	close(gate)
	return l
}

// Run starts a loop that ends by itself (Each or Total) and waits for it.
func Run(cfg Config, call func(Call) string) Counts {
	return Start(cfg, call).Wait()
}

// Counts returns the outcomes counted so far.
func (l *Loop) Counts() Counts {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.counts)
}

// Wait waits until every worker has returned and returns the counts. On a
// loop without Each or Total it waits for Stop.
func (l *Loop) Wait() Counts {
	l.wg.Wait()
	return l.Counts()
}

// Stop tells the workers to stop after the call each is making, waits for
// them and returns the counts. Calling it again returns the counts.
func (l *Loop) Stop() Counts {
	l.stopOnce.Do(func() { close(l.stop) })
	return l.Wait()
}
