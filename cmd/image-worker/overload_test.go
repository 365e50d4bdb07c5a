package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	imp := exec.Command(bin, "import", "--book", "HOT", "../../testdata/photo-1600x2400-baseline.jpg")
	imp.Env = []string{"DATA_DIR=" + data, "IMAGE_SIGNING_KEYS=" + testKeyHex}
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("import: %v %s", err, out)
	}
	// Default render settings: MAX_CONCURRENT_TRANSFORMS = CPUs, queue 4 x CPUs.
	r := startReplica(t, bin, map[string]string{"DATA_DIR": data, "IMAGE_SIGNING_KEYS": testKeyHex, "KAFKA_BROKERS": "", "PRERENDER": "",
		"LOG_LEVEL": "error", "LISTEN_ADDR": freeAddr(t), "INTERNAL_ADDR": freeAddr(t)})
	signer := startServiceSigner(t, testKeyHex)
	url := func(path string) string { return "http://" + r.public + path + "?sig=" + signer.Sign(path, nil) }
	if resp, err := http.Get(url("/covers/HOT/320.webp")); err != nil || resp.StatusCode != 200 {
		t.Fatalf("warm the hit: %v", err)
	}

	var ok, shed, other, noRetryAfter, hits, hitFailures atomic.Int64
	var shedSlowest atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	clients := 4 * 4 * 2 // 4x of (slots + queue) on 2 CPUs
	var seq atomic.Int64
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := seq.Add(1)
				start := time.Now()
				resp, err := http.Get(url(fmt.Sprintf("/covers/HOT/%dx%d.avif", 100+n%1900, 100+n/1900)))
				switch {
				case err != nil:
					other.Add(1)
				case resp.StatusCode == 200:
					ok.Add(1)
				case resp.StatusCode == 503:
					shed.Add(1)
					if d := time.Since(start).Milliseconds(); d > shedSlowest.Load() {
						shedSlowest.Store(d)
					}
					if resp.Header.Get("Retry-After") == "" {
						noRetryAfter.Add(1)
					}
				default:
					other.Add(1)
				}
				if err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := http.Get(url("/covers/HOT/320.webp"))
			hits.Add(1)
			if err != nil || resp.StatusCode != 200 {
				hitFailures.Add(1)
			}
			if err == nil {
				resp.Body.Close()
			}
		}
	}()
	time.Sleep(5 * time.Second)
	close(stop)
	wg.Wait()
	serverMB, workersMB := procStatusKB(t, r.cmd.Process.Pid, "VmHWM")/1024, 0
	workers := childPIDs(t, r.cmd.Process.Pid)
	for _, pid := range workers {
		workersMB += procStatusKB(t, pid, "VmHWM") / 1024
	}
	peakMB := serverMB + workersMB // an upper bound: the workers' peaks need not coincide
	fmt.Printf("overload: %d clients for 5s: %d rendered, %d shed with 503 (slowest %d ms), %d other; %d cache hits during overload (%d failed); peak RSS %d MB (serving process %d MB, %d render workers %d MB)\n",
		clients, ok.Load(), shed.Load(), shedSlowest.Load(), other.Load(), hits.Load(), hitFailures.Load(), peakMB, serverMB, len(workers), workersMB)
	if len(workers) == 0 {
		t.Errorf("no render worker process under the service (pid %d) after renders", r.cmd.Process.Pid)
	}
	if shed.Load() == 0 || ok.Load() == 0 {
		t.Errorf("overload: %d rendered, %d shed; want both > 0", ok.Load(), shed.Load())
	}
	if other.Load() != 0 || noRetryAfter.Load() != 0 {
		t.Errorf("overload: %d answers neither 200 nor 503, %d 503s without Retry-After; want 0 and 0", other.Load(), noRetryAfter.Load())
	}
	if hitFailures.Load() != 0 || hits.Load() < 100 {
		t.Errorf("cache hits during overload: %d of %d failed; want 0 of at least 100", hitFailures.Load(), hits.Load())
	}
	if peakMB > overloadRSSLimitMB {
		t.Errorf("peak RSS under overload = %d MB, over the %d MB bound", peakMB, overloadRSSLimitMB)
	}
}
