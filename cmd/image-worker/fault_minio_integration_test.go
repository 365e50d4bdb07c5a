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
// keep being served, the rest get 503 + Retry-After at once, /ready stays 200
// ("send me traffic": this replica still serves) reporting the store down in
// its body and in covers_dependency_up, /health stays 200, and an accepted
// job retries until the store is back; everything recovers without a
// restart.
func TestMinIOStoppedAndRestarted(t *testing.T) {
	m, store := privateMinIOStore(t, "fault-covers", 3*time.Second)
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
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"status":"degraded"`) || !strings.Contains(string(body), `"object_store":"unreachable"`) {
		t.Errorf("/ready with MinIO down = %d %s; want 200 degraded, object_store unreachable", resp.StatusCode, body)
	}
	if _, m := do(t, http.MethodGet, svc.internal+"/metrics", nil); !strings.Contains(string(m), `covers_dependency_up{dependency="object_store"} 0`) {
		t.Errorf("/metrics with MinIO down has no covers_dependency_up{dependency=\"object_store\"} 0")
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
		ready, readyBody := do(t, http.MethodGet, svc.base+"/ready", nil)
		if resp.StatusCode == 200 && ready.StatusCode == 200 && strings.Contains(string(readyBody), `"status":"ready"`) {
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

// TestMinIODownServesWhatItCan: with the object store gone and every
// manifest past MANIFEST_TTL, a known book keeps being served from memory
// (its manifest is served stale), a versioned URL whose variant is in
// memory is served even for a book whose manifest this replica never had
// in its cache, and only what needs the store answers 503.
func TestMinIODownServesWhatItCan(t *testing.T) {
	m, store := privateMinIOStore(t, "stale-covers", 2*time.Second)
	src := newSource(t)
	svc := startService(t, store, src, map[string]string{"MANIFEST_TTL": "1s"})
	j := svc.warm("STALE", src.add("/stale.jpg", readTestdata(t, "photo-1600x2400-baseline.jpg")))
	unversioned := svc.signed("/covers/STALE/320.webp")
	versioned := svc.signed("/covers/STALE/200.webp?v=" + j.Version)
	for _, u := range []string{unversioned, versioned} {
		if resp, _ := do(t, http.MethodGet, u, nil); resp.StatusCode != 200 {
			t.Fatalf("warm-up GET %s = %d", u, resp.StatusCode)
		}
	}
	m.Stop()
	time.Sleep(1500 * time.Millisecond) // every manifest is past its TTL
	for _, u := range []string{unversioned, versioned} {
		start := time.Now()
		resp, body := do(t, http.MethodGet, u, nil)
		if resp.StatusCode != 200 || resp.Header.Get("X-Cover-Placeholder") != "" || time.Since(start) > 5*time.Second {
			t.Errorf("GET %s with MinIO down, manifest expired = %d %s after %v; want 200 from memory", u, resp.StatusCode, clipBody(body), time.Since(start))
		}
	}
	svc.app.manifests.Forget("STALE") // as on a replica that never read this manifest
	if resp, body := do(t, http.MethodGet, versioned, nil); resp.StatusCode != 200 {
		t.Errorf("versioned GET with MinIO down and no manifest at all = %d %s; want 200 from memory", resp.StatusCode, clipBody(body))
	}
	if resp, _ := do(t, http.MethodGet, unversioned, nil); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("unversioned GET with MinIO down and no manifest = %d; want 503 + Retry-After", resp.StatusCode)
	}
	_, metricsBody := do(t, http.MethodGet, svc.internal+"/metrics", nil)
	if strings.Contains(string(metricsBody), `covers_cache_manifest_lookups_total{result="stale"} 0`) {
		t.Errorf("no stale manifest lookup counted")
	}
}

// privateMinIOStore starts a MinIO server of the test's own (so it can be
// stopped) and opens a store on it with the given per-operation timeout.
func privateMinIOStore(t *testing.T, bucket string, timeout time.Duration) (*testenv.MinIOServer, cache.Store) {
	t.Helper()
	m := testenv.StartMinIO(t)
	cfg := cache.DefaultMinIOConfig()
	cfg.Endpoint, cfg.AccessKey, cfg.SecretKey, cfg.Bucket, cfg.Timeout = m.Endpoint, m.AccessKey, m.SecretKey, bucket, timeout
	store, err := cache.NewMinIOStore(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return m, store
}
