package transform

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/bookcovers/image-worker/cover"
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

// BenchmarkRenderCPU compares the CPU time of one cold render through a
// Renderer (this process plus its worker, from /proc) with that of libvips
// alone in this process (vips_thumbnail_buffer and the saver, the floor of
// `make bench`), in alternating batches so both see the same machine load.
// CPU time moves much less with the neighbours' load than wall time does.
func BenchmarkRenderCPU(b *testing.B) {
	src := testdata(b, "photo-1600x2400-baseline.jpg")
	r := newTestRenderer(b, func(c *Config) { c.MaxConcurrent = 1 })
	info, err := Probe(src, r.cfg.MaxPixels)
	if err != nil {
		b.Fatal(err)
	}
	const batch = 10
	for _, f := range formats {
		req := Request{Width: 320, Format: f}
		b.Run(fmt.Sprintf("%s/320", f), func(b *testing.B) {
			render(b, r, src, req) // the worker is up
			var floorCPU, workerCPU float64
			var n int
			for b.Loop() {
				c0 := processCPU(os.Getpid())
				for range batch {
					if err := withLoader(info.Type, func() error { return floorRender(src, 320, f, r.cfg) }); err != nil {
						b.Fatal(err)
					}
				}
				c1 := processCPU(os.Getpid())
				w1 := workersCPU(r)
				for range batch {
					if _, err := r.Render(context.Background(), src, req); err != nil {
						b.Fatal(err)
					}
				}
				floorCPU += c1 - c0
				workerCPU += processCPU(os.Getpid()) - c1 + workersCPU(r) - w1
				n += batch
			}
			b.ReportMetric(1000*floorCPU/float64(n), "floor-cpu-ms")
			b.ReportMetric(1000*workerCPU/float64(n), "service-cpu-ms")
			b.ReportMetric(floorCPU/workerCPU, "floor/service")
		})
	}
}

// floorRender is libvips alone: what loadbench's floor runs.
func floorRender(src []byte, width int, f cover.Format, cfg Config) error {
	img, err := vips.LoadThumbnailFromBuffer(src, width, vipsMaxCoord, vips.InterestingNone, vips.SizeDown, vips.NewImportParams())
	if err != nil {
		return err
	}
	defer img.Close()
	if f == cover.AVIF {
		p := vips.NewAvifExportParams()
		p.Quality, p.Effort, p.Bitdepth, p.StripMetadata = cfg.AVIFQuality, cfg.AVIFEffort, 8, true
		_, _, err = img.ExportAvif(p)
		return err
	}
	p := vips.NewWebpExportParams()
	p.Quality, p.StripMetadata = cfg.WebPQuality, true
	_, _, err = img.ExportWebp(p)
	return err
}

func workersCPU(r *Renderer) float64 {
	var total float64
	for _, pid := range r.WorkerPIDs() {
		total += processCPU(pid)
	}
	return total
}

// processCPU is a process's user+system CPU time in seconds, from /proc.
func processCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / 100
}
