package transform

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkLadder renders the default ladder (defaultLadder: five widths in
// WebP and AVIF) of the 1600x2400 JPEG as ten independent Render calls and
// as one RenderLadder, on one render worker, and reports the CPU time of
// one ladder (the worker's user+system time from /proc plus this process's
// from getrusage) as cpu-ms/ladder. The ladder sub-benchmark also reports
// cpu-ratio: its CPU per ladder over the independent renders' CPU per
// ladder, measured in the same run (target <= 0.6).
func BenchmarkLadder(b *testing.B) {
	src := testdata(b, "photo-1600x2400-baseline.jpg")
	reqs := defaultLadder()
	r := newTestRenderer(b, func(c *Config) { c.MaxConcurrent = 1 })
	ctx := context.Background()
	if _, err := r.RenderLadder(ctx, src, reqs[:1]); err != nil { // start the worker
		b.Fatal(err)
	}
	var independent float64
	run := func(b *testing.B, once func()) float64 {
		b.ReportAllocs()
		start := cpuOf(b, r)
		n := 0
		for b.Loop() {
			once()
			n++
		}
		ms := (cpuOf(b, r) - start).Seconds() * 1000 / float64(n)
		b.ReportMetric(ms, "cpu-ms/ladder")
		return ms
	}
	b.Run("independent", func(b *testing.B) {
		independent = run(b, func() {
			for _, req := range reqs {
				if _, err := r.Render(ctx, src, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("ladder", func(b *testing.B) {
		ms := run(b, func() {
			if _, err := r.RenderLadder(ctx, src, reqs); err != nil {
				b.Fatal(err)
			}
		})
		if independent > 0 {
			b.ReportMetric(ms/independent, "cpu-ratio")
		}
	})
}

// cpuOf is the CPU time used so far by this process and r's live render
// workers.
func cpuOf(tb testing.TB, r *Renderer) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	total := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	for _, pid := range r.WorkerPIDs() {
		total += procCPU(tb, pid)
	}
	return total
}

// procCPU reads utime+stime of a process from /proc/PID/stat.
func procCPU(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		tb.Skipf("no /proc stat for worker %d: %v", pid, err)
	}
	// Fields after the command name (which may hold spaces) in parentheses.
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	f := strings.Fields(rest)
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clkTck
}
