package transform

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkWorkerOverhead measures what rendering in a worker process
// costs: each iteration renders the same variant in this process (engine,
// libvips on the calling thread, as a worker does it) and through a
// Renderer (probe, gate, pipe round trip, the worker's own probe), back to
// back, so both see the same machine load. It reports the median of each
// and their ratio; the worker-ms figure is what a cold render costs the
// service.
func BenchmarkWorkerOverhead(b *testing.B) {
	src := testdata(b, "photo-1600x2400-baseline.jpg")
	r := newTestRenderer(b, func(c *Config) { c.MaxConcurrent = 1 })
	e := engine{cfg: r.cfg}
	info, err := Probe(src, r.cfg.MaxPixels)
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range formats {
		for _, w := range []int{320, 640} {
			req := Request{Width: w, Format: f}
			g := plan(info.Width, info.Height, req)
			b.Run(fmt.Sprintf("%s/%d", f, w), func(b *testing.B) {
				render(b, r, src, req) // the worker is up
				var inproc, worker []time.Duration
				for b.Loop() {
					t0 := time.Now()
					if _, err := e.render(info.Type, src, g, req); err != nil {
						b.Fatal(err)
					}
					t1 := time.Now()
					if _, err := r.Render(context.Background(), src, req); err != nil {
						b.Fatal(err)
					}
					inproc, worker = append(inproc, t1.Sub(t0)), append(worker, time.Since(t1))
				}
				mi, mw := median(inproc), median(worker)
				b.ReportMetric(float64(mi.Microseconds())/1000, "inproc-ms")
				b.ReportMetric(float64(mw.Microseconds())/1000, "worker-ms")
				b.ReportMetric(float64(mw)/float64(mi), "worker/inproc")
			})
		}
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
