package main

import (
	"bytes"
	"errors"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// TestRenderWorkerCrashLeavesTheServiceServing: every render worker of a
// running service is killed with SIGSEGV (what a crashing codec does). The
// service process lives on: covers already in memory are served as before
// without a render, /health answers, and the next new variant is rendered
// by a fresh worker.
func TestRenderWorkerCrashLeavesTheServiceServing(t *testing.T) {
	src := newSource(t)
	svc := startService(t, localStore(t), src, nil)
	svc.warm("CRASH1", src.add("/crash1.jpg", readTestdata(t, "photo-1600x2400-baseline.jpg")))
	url := svc.signed("/covers/CRASH1/320.webp")
	resp, first := do(t, http.MethodGet, url, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d before the crash", url, resp.StatusCode)
	}
	pids := svc.app.renderer.WorkerPIDs()
	if len(pids) == 0 {
		t.Fatal("no render worker after a render and an ingest check")
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGSEGV); err != nil {
			t.Fatalf("kill worker %d: %v", pid, err)
		}
	}
	for _, pid := range pids {
		deadline := time.Now().Add(5 * time.Second)
		for !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			if time.Now().After(deadline) {
				t.Fatalf("worker %d alive 5s after SIGSEGV", pid)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	renders := svc.app.renderer.Renders()
	resp, again := do(t, http.MethodGet, url, nil)
	if resp.StatusCode != 200 || !bytes.Equal(again, first) {
		t.Fatalf("GET cached cover after the workers crashed = %d (%d bytes, same=%v); want 200 and the same bytes", resp.StatusCode, len(again), bytes.Equal(again, first))
	}
	if n := svc.app.renderer.Renders(); n != renders {
		t.Errorf("serving a cached cover rendered %d times; want 0", n-renders)
	}
	if resp, _ := do(t, http.MethodGet, svc.base+"/health", nil); resp.StatusCode != 200 {
		t.Fatalf("/health after the workers crashed = %d", resp.StatusCode)
	}
	resp, body := do(t, http.MethodGet, svc.signed("/covers/CRASH1/160.webp"), nil)
	if resp.StatusCode != 200 || resp.Header.Get("X-Cover-Placeholder") == "true" {
		t.Fatalf("GET a new variant after the crash = %d placeholder=%q", resp.StatusCode, resp.Header.Get("X-Cover-Placeholder"))
	}
	if d := decodeVariant(t, body); d.width != 160 || d.height != 240 {
		t.Errorf("new variant after the crash = %dx%d; want 160x240", d.width, d.height)
	}
	for _, pid := range svc.app.renderer.WorkerPIDs() {
		for _, dead := range pids {
			if pid == dead {
				t.Errorf("worker %d still listed after it died", pid)
			}
		}
	}
}
