package systemtest

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/internal/loadloop"
	"github.com/bookcovers/image-worker/internal/replica"
)

// procStatusKB reads one kB field of a process's /proc status (VmRSS, VmHWM).
func procStatusKB(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// childPIDs lists the processes whose parent is pid (a service's render
// workers).
func childPIDs(t *testing.T, pid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// overloadRSSLimitMB is the peak RSS bound the README states for the default
// settings under overload (renders bounded by the gate, libvips caches off).
const overloadRSSLimitMB = 600

// TestOverloadShedsRendersAndKeepsServingHits offers about four times the
// render capacity of distinct new variants while a client reads a cached
// one: the excess is answered 503 with Retry-After, nothing else fails, the
// cached variant keeps being served, and peak RSS stays under the bound.
func TestOverloadShedsRendersAndKeepsServingHits(t *testing.T) {
	bin := replica.Build(t)
	data, _ := importLocal(t, bin, "HOT")
	// Default render settings: MAX_CONCURRENT_TRANSFORMS = CPUs, queue 4 x CPUs.
	r := replica.Start(t, bin, map[string]string{"DATA_DIR": data, "IMAGE_SIGNING_KEYS": testKeyHex, "KAFKA_BROKERS": "", "PRERENDER": "",
		"LOG_LEVEL": "error"})
	signer := signerOf(t, testKeyHex)
	url := func(path string) string { return "http://" + r.Public + path + "?sig=" + signer.Sign(path, nil) }
	if resp, err := http.Get(url("/covers/HOT/320.webp")); err != nil || resp.StatusCode != 200 {
		t.Fatalf("warm the hit: %v", err)
	}

	var shedSlowest atomic.Int64
	clients := 4 * 4 * 2 // 4x of (slots + queue) on 2 CPUs
	renders := loadloop.Start(loadloop.Config{Workers: clients}, func(c loadloop.Call) string {
		n := c.Seq + 1
		start := time.Now()
		resp, err := http.Get(url(fmt.Sprintf("/covers/HOT/%dx%d.avif", 100+n%1900, 100+n/1900)))
		if err != nil {
			return "other"
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case 200:
			return "ok"
		case 503:
			if d := time.Since(start).Milliseconds(); d > shedSlowest.Load() {
				shedSlowest.Store(d)
			}
			if resp.Header.Get("Retry-After") == "" {
				return "shed without Retry-After"
			}
			return "shed"
		default:
			return "other"
		}
	})
	hitLoop := loadloop.Start(loadloop.Config{Workers: 1}, func(loadloop.Call) string {
		resp, err := http.Get(url("/covers/HOT/320.webp"))
		if err != nil {
			return "failed"
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return "failed"
		}
		return "ok"
	})
	time.Sleep(5 * time.Second)
	hitCounts, counts := hitLoop.Stop(), renders.Stop() // every hit counted was read under the full load
	ok, shed, other, noRetryAfter := counts["ok"], counts.Sum("shed", "shed without Retry-After"), counts["other"], counts["shed without Retry-After"]
	hits, hitFailures := hitCounts.Sum(), hitCounts["failed"]
	serverMB, workersMB := procStatusKB(t, r.Pid(), "VmHWM")/1024, 0
	workers := childPIDs(t, r.Pid())
	for _, pid := range workers {
		workersMB += procStatusKB(t, pid, "VmHWM") / 1024
	}
	peakMB := serverMB + workersMB // an upper bound: the workers' peaks need not coincide
	fmt.Printf("overload: %d clients for 5s: %d rendered, %d shed with 503 (slowest %d ms), %d other; %d cache hits during overload (%d failed); peak RSS %d MB (serving process %d MB, %d render workers %d MB)\n",
		clients, ok, shed, shedSlowest.Load(), other, hits, hitFailures, peakMB, serverMB, len(workers), workersMB)
	if len(workers) == 0 {
		t.Errorf("no render worker process under the service (pid %d) after renders", r.Pid())
	}
	if shed == 0 || ok == 0 {
		t.Errorf("overload: %d rendered, %d shed; want both > 0", ok, shed)
	}
	if other != 0 || noRetryAfter != 0 {
		t.Errorf("overload: %d answers neither 200 nor 503, %d 503s without Retry-After; want 0 and 0", other, noRetryAfter)
	}
	if hitFailures != 0 || hits < 100 {
		t.Errorf("cache hits during overload: %d of %d failed; want 0 of at least 100", hitFailures, hits)
	}
	if peakMB > overloadRSSLimitMB {
		t.Errorf("peak RSS under overload = %d MB, over the %d MB bound", peakMB, overloadRSSLimitMB)
	}
}
