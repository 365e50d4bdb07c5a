package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/internal/loadloop"
	"github.com/bookcovers/image-worker/internal/testenv"
)

// The store budget under test, and the bound its answers must come within:
// STORE_TIMEOUT plus a generous margin for a loaded test machine. The
// store's own per-operation timeout stays at its 10s default, so only the
// budget can end these requests in time.
const (
	budgetStoreTimeout = "1s"
	budgetBound        = 4 * time.Second
)

// budgetAnswer is one answer to a request made while the store misbehaves.
type budgetAnswer struct {
	path       string
	status     int
	code       string
	retryAfter string
	took       time.Duration
}

func (a budgetAnswer) String() string {
	return fmt.Sprintf("GET %s = %d %q (Retry-After %q) after %v", a.path, a.status, a.code, a.retryAfter, a.took.Round(time.Millisecond))
}

// startBudgetService starts a private MinIO and the service on it with
// STORE_TIMEOUT=budgetStoreTimeout, with two covers stored: KEPT, whose
// manifest and 320.webp are in memory, and COLD, whose manifest is not (as
// on a replica that has not read it yet).
func startBudgetService(t *testing.T, bucket string) (*testenv.MinIOServer, *service, *source) {
	t.Helper()
	m, store := privateMinIOStore(t, bucket, 10*time.Second)
	src := newSource(t)
	svc := startService(t, store, src, map[string]string{"STORE_TIMEOUT": budgetStoreTimeout, "MANIFEST_TTL": "1h"})
	photo := readTestdata(t, "photo-1600x2400-baseline.jpg")
	svc.warm("KEPT", src.add("/kept.jpg", photo))
	svc.warm("COLD", src.add("/cold.jpg", photo))
	if a := getTimed(t, svc, "/covers/KEPT/320.webp"); a.status != 200 {
		t.Fatalf("warm-up: %v", a)
	}
	svc.app.manifests.Forget("COLD")
	return m, svc, src
}

// getTimed requests a signed cover path and reads its error code, if any.
func getTimed(t *testing.T, svc *service, path string) budgetAnswer {
	start := time.Now()
	resp, err := http.Get(svc.signed(path))
	a := budgetAnswer{path: path, took: time.Since(start)}
	if err != nil {
		t.Errorf("GET %s: %v", path, err)
		return a
	}
	defer resp.Body.Close()
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	a.status, a.code, a.retryAfter = resp.StatusCode, body.Error.Code, resp.Header.Get("Retry-After")
	return a
}

// processAndReady posts a job and asks /ready while the store misbehaves,
// timing both: POST /process answers 503 storage_unavailable with
// Retry-After (its frozen contract) within the budget, /ready 200 degraded
// within its own 2 s budget.
func processAndReady(t *testing.T, svc *service, src *source, what string) {
	t.Helper()
	start := time.Now()
	payload := fmt.Sprintf(`{"book_id":"NEWJOB","image_url":%q}`, src.add("/new.jpg", readTestdata(t, "cover-50x75-tiny.jpg")))
	resp, err := http.Post(svc.base+"/process", "application/json", strings.NewReader(payload))
	if err != nil {
		t.Fatalf("POST /process: %v", err)
	}
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	took := time.Since(start)
	t.Logf("%s: POST /process = %d %q after %v", what, resp.StatusCode, body.Error.Code, took.Round(time.Millisecond))
	if resp.StatusCode != http.StatusServiceUnavailable || body.Error.Code != "storage_unavailable" || resp.Header.Get("Retry-After") == "" || took > budgetBound {
		t.Errorf("%s: POST /process = %d %q (Retry-After %q) after %v; want 503 storage_unavailable with Retry-After within %v",
			what, resp.StatusCode, body.Error.Code, resp.Header.Get("Retry-After"), took, budgetBound)
	}
	start = time.Now()
	ready, readyBody := do(t, http.MethodGet, svc.base+"/ready", nil)
	took = time.Since(start)
	t.Logf("%s: /ready = %d %s after %v", what, ready.StatusCode, readyBody, took.Round(time.Millisecond))
	if ready.StatusCode != 200 || !strings.Contains(string(readyBody), `"object_store":"unreachable"`) || took > budgetBound {
		t.Errorf("%s: /ready = %d %s after %v; want 200 degraded (object_store unreachable) within %v", what, ready.StatusCode, readyBody, took, budgetBound)
	}
}

// wantStoreFailure checks a prompt 504 storage_timeout or 503
// storage_unavailable with Retry-After.
func wantStoreFailure(t *testing.T, a budgetAnswer, what string) {
	t.Helper()
	ok := a.status == http.StatusGatewayTimeout && a.code == "storage_timeout" ||
		a.status == http.StatusServiceUnavailable && a.code == "storage_unavailable"
	if !ok || a.retryAfter == "" || a.took > budgetBound {
		t.Errorf("%s: %v; want 504 storage_timeout or 503 storage_unavailable with Retry-After within %v (STORE_TIMEOUT=%s)", what, a, budgetBound, budgetStoreTimeout)
	}
}

// TestStalledMinIOIsBoundedByTheStoreBudget stops MinIO with SIGSTOP (it
// accepts connections and answers nothing): a cover in memory is still
// served; requests that need the store (a book whose manifest is not in
// memory, a new variant of one whose manifest is) answer 504
// storage_timeout with Retry-After within the budget, alone or eight at
// once, holding no render slot; after SIGCONT the same covers render.
func TestStalledMinIOIsBoundedByTheStoreBudget(t *testing.T) {
	m, svc, src := startBudgetService(t, "budget-stalled")
	m.Pause()
	if a := getTimed(t, svc, "/covers/KEPT/320.webp"); a.status != 200 || a.took > time.Second {
		t.Errorf("cover in memory with MinIO stalled: %v; want 200 at once", a)
	}
	wantStoreFailure(t, getTimed(t, svc, "/covers/COLD/320.webp"), "uncached cover, manifest not in memory, MinIO stalled")

	paths := []string{"/covers/KEPT/200.webp", "/covers/KEPT/201.avif", "/covers/KEPT/202.webp", "/covers/KEPT/203x300.webp",
		"/covers/COLD/200.webp", "/covers/COLD/201.avif", "/covers/NEVER-SEEN/320.webp", "/covers/COLD/meta.json"}
	answers := make([]budgetAnswer, len(paths))
	loadloop.Run(loadloop.Config{Workers: len(paths), Each: 1}, func(c loadloop.Call) string {
		answers[c.Worker] = getTimed(t, svc, paths[c.Worker])
		return ""
	})
	for _, a := range answers {
		wantStoreFailure(t, a, "one of 8 concurrent requests, MinIO stalled")
		t.Log(a)
	}
	if n := metricValue(t, svc, "covers_transform_in_flight"); n != 0 {
		t.Errorf("covers_transform_in_flight = %v with MinIO stalled, want 0 (no render slot held)", n)
	}
	processAndReady(t, svc, src, "MinIO stalled")

	m.Resume()
	for _, path := range []string{"/covers/COLD/320.webp", "/covers/KEPT/200.webp"} {
		deadline := time.Now().Add(15 * time.Second)
		for {
			a := getTimed(t, svc, path)
			if a.status == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after SIGCONT: %v; want 200 within 15s", a)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// TestKilledMinIOAnswersWithinTheStoreBudget kills MinIO (connections are
// refused): covers that need the store answer 503 storage_unavailable with
// Retry-After at once, not after the budget; a cover in memory is served.
func TestKilledMinIOAnswersWithinTheStoreBudget(t *testing.T) {
	m, svc, src := startBudgetService(t, "budget-killed")
	m.Stop()
	if a := getTimed(t, svc, "/covers/KEPT/320.webp"); a.status != 200 || a.took > time.Second {
		t.Errorf("cover in memory with MinIO killed: %v; want 200 at once", a)
	}
	for _, path := range []string{"/covers/COLD/320.webp", "/covers/KEPT/640.webp"} {
		a := getTimed(t, svc, path)
		if a.status != http.StatusServiceUnavailable || a.code != "storage_unavailable" || a.retryAfter == "" || a.took > budgetBound {
			t.Errorf("MinIO killed: %v; want 503 storage_unavailable with Retry-After within %v", a, budgetBound)
		}
		t.Log(a)
	}
	processAndReady(t, svc, src, "MinIO killed")
}
