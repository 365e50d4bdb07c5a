package main

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// run is the outcome of one measured segment.
type run struct {
	Requests   int             // answered (any status)
	Errors     int             // transport errors
	Elapsed    time.Duration   // wall time of the segment
	CPU        float64         // CPU seconds of the processes doing this side's work
	CPUByPID   map[int]float64 // the same, per process
	Lat        []int64         // ns, every answered request
	OKLat      []int64         // ns, status 200 only
	ShedLat    []int64         // ns, status 503 only
	Lag        []int64         // ns, open loop: how late each request was sent
	Status     map[int]int
	NoRetryHdr int // 503s without Retry-After
}

func newRun() *run { return &run{Status: map[int]int{}} }

// merge folds o into r (segments of one side of an interleaved pair).
func (r *run) merge(o *run) {
	r.Requests += o.Requests
	r.Errors += o.Errors
	r.Elapsed += o.Elapsed
	r.CPU += o.CPU
	for p, c := range o.CPUByPID {
		if r.CPUByPID == nil {
			r.CPUByPID = map[int]float64{}
		}
		r.CPUByPID[p] += c
	}
	r.Lat = append(r.Lat, o.Lat...)
	r.OKLat = append(r.OKLat, o.OKLat...)
	r.ShedLat = append(r.ShedLat, o.ShedLat...)
	for k, v := range o.Status {
		r.Status[k] += v
	}
	r.NoRetryHdr += o.NoRetryHdr
}

func (r *run) record(resp response, d time.Duration) {
	r.Requests++
	r.Lat = append(r.Lat, int64(d))
	r.Status[resp.status]++
	switch resp.status {
	case 200:
		r.OKLat = append(r.OKLat, int64(d))
	case 503:
		r.ShedLat = append(r.ShedLat, int64(d))
		if !resp.retryAfter {
			r.NoRetryHdr++
		}
	}
}

// rate is answered requests per second.
func (r *run) rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// okRate is 200 answers per second.
func (r *run) okRate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Status[200]) / r.Elapsed.Seconds()
}

// pct returns the p-th percentile (0..100) of ns samples.
func pct(samples []int64, p float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	i := int(p / 100 * float64(len(s)-1))
	return time.Duration(s[i])
}

// closedLoop keeps conns requests in flight for dur: each connection sends
// its next request when the previous answer is read. next returns the
// request bytes for the i-th request overall.
func closedLoop(ctx context.Context, addr string, conns int, dur time.Duration, next func(i int64) []byte) *run {
	var seq atomic.Int64
	parts := make([]*run, conns)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(dur)
	for w := range conns {
		parts[w] = newRun()
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newConn(addr)
			defer c.close()
			part := parts[w]
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				resp, err := c.do(next(seq.Add(1) - 1))
				if err != nil {
					part.Errors++
					time.Sleep(time.Millisecond)
					continue
				}
				part.record(resp, time.Since(t0))
			}
		}()
	}
	wg.Wait()
	out := newRun()
	for _, p := range parts {
		out.merge(p)
	}
	out.Elapsed = time.Since(start)
	return out
}

// openLoop sends requests at a fixed rate for dur whatever the answers take,
// on as many connections as are needed, at most maxConns. Latency counts
// from the actual send; how late each send was (the client's own lag on a
// busy machine) is kept in Lag.
func openLoop(ctx context.Context, addr string, perSec float64, dur time.Duration, maxConns int, next func(i int64) []byte) *run {
	interval := time.Duration(float64(time.Second) / perSec)
	idle := make(chan *conn, maxConns)
	for range maxConns {
		idle <- newConn(addr)
	}
	var mu sync.Mutex
	out := newRun()
	var wg sync.WaitGroup
	start := time.Now()
	for i := int64(0); ctx.Err() == nil; i++ {
		at := start.Add(time.Duration(i) * interval)
		if at.Sub(start) >= dur {
			break
		}
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		var c *conn
		select {
		case c = <-idle:
		default:
			mu.Lock()
			out.Errors++ // the client ran out of connections: count it, do not wait
			mu.Unlock()
			continue
		}
		req := next(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent := time.Now()
			resp, err := c.do(req)
			d := time.Since(sent) // from the send: a late dispatch here is the client's lag, not the server's
			mu.Lock()
			out.Lag = append(out.Lag, int64(sent.Sub(at)))
			mu.Unlock()
			idle <- c
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				out.Errors++
				return
			}
			out.record(resp, d)
		}()
	}
	wg.Wait()
	out.Elapsed = time.Since(start)
	close(idle)
	for c := range idle {
		c.close()
	}
	return out
}
