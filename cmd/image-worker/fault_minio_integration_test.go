package main

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/internal/testenv"
)

// TestMinIOStoppedAndRestarted: with the object store down, cached variants
// keep being served, the rest get 503 + Retry-After at once, /ready turns 503
// while /health stays 200, and an accepted job retries until the store is
// back; everything recovers without a restart.
func TestMinIOStoppedAndRestarted(t *testing.T) {
	m := testenv.StartMinIO(t)
	cfg := cache.DefaultMinIOConfig()
	cfg.Endpoint, cfg.AccessKey, cfg.SecretKey, cfg.Bucket, cfg.Timeout = m.Endpoint, m.AccessKey, m.SecretKey, "fault-covers", 3*time.Second
	store, err := cache.NewMinIOStore(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	src := newSource(t)
	svc := startService(t, store, src, map[string]string{"JOB_RETRY_BASE": "100ms", "JOB_RETRY_MAX": "300ms", "MANIFEST_TTL": "1h"})
	svc.warm("UP", src.add("/up.jpg", readTestdata(t, "photo-1600x2400-baseline.jpg")))
	if resp, _ := do(t, http.MethodGet, svc.signed("/covers/UP/320.webp"), nil); resp.StatusCode != 200 {
		t.Fatalf("warm-up GET = %d", resp.StatusCode)
	}
	// A job accepted while the store is up whose fetch is still running when it goes down.
	release := make(chan struct{})
	slowURL := src.add("/slow.jpg", readTestdata(t, "cover-50x75-tiny.jpg"))
	src.delay("/slow.jpg", release)
	jobID := svc.process("LATE", slowURL, "")

	m.Stop()
	close(release)
	resp, _ := do(t, http.MethodGet, svc.signed("/covers/UP/320.webp"), nil)
	if resp.StatusCode != 200 {
		t.Errorf("cached variant with MinIO down = %d, want 200", resp.StatusCode)
	}
	start := time.Now()
	resp, body := do(t, http.MethodGet, svc.signed("/covers/UP/640.webp"), nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || time.Since(start) > 5*time.Second {
		t.Errorf("uncached variant with MinIO down = %d %s after %v (Retry-After %q), want a quick 503 with Retry-After",
			resp.StatusCode, body, time.Since(start), resp.Header.Get("Retry-After"))
	}
	resp, body = do(t, http.MethodGet, svc.base+"/ready", nil)
	if resp.StatusCode != 503 || !strings.Contains(string(body), "object store unreachable") {
		t.Errorf("/ready with MinIO down = %d %s", resp.StatusCode, body)
	}
	if resp, _ := do(t, http.MethodGet, svc.base+"/health", nil); resp.StatusCode != 200 {
		t.Errorf("/health with MinIO down = %d, want 200", resp.StatusCode)
	}
	time.Sleep(500 * time.Millisecond) // the job has failed its store write at least once

	_, metricsBody := do(t, http.MethodGet, svc.internal+"/metrics", nil)
	if strings.Contains(string(metricsBody), "covers_ingest_jobs_retries_total 0") {
		t.Errorf("the job did not retry while MinIO was down")
	}
	m.Start()
	if j := svc.waitJob(jobID); j.State != "succeeded" {
		t.Errorf("job accepted before the outage = %+v, want succeeded after MinIO came back", j)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, _ := do(t, http.MethodGet, svc.signed("/covers/UP/640.webp"), nil)
		ready, _ := do(t, http.MethodGet, svc.base+"/ready", nil)
		if resp.StatusCode == 200 && ready.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery 15s after MinIO restarted: cover %d, ready %d", resp.StatusCode, ready.StatusCode)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if resp, _ := do(t, http.MethodGet, svc.signed("/covers/LATE/64.webp"), nil); resp.StatusCode != 200 || resp.Header.Get("X-Cover-Placeholder") != "" {
		t.Errorf("cover of the job that survived the outage = %d placeholder=%q", resp.StatusCode, resp.Header.Get("X-Cover-Placeholder"))
	}
}
