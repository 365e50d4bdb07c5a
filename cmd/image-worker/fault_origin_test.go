package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// flakyOrigin answers each path by a script, one step per request (the last
// step repeats): "reset" (TCP RST before any answer), "503", "ok" (the
// image), "stall" (the headers and half the body, then nothing). Every
// answer closes its connection, so each fetch attempt is one request here.
type flakyOrigin struct {
	srv  *httptest.Server
	body []byte
	mu   sync.Mutex
	plan map[string][]string
	hits map[string][]time.Time
	cut  map[string]time.Time // when the client dropped a stalled request
}

func newFlakyOrigin(t *testing.T, body []byte) *flakyOrigin {
	o := &flakyOrigin{body: body, plan: map[string][]string{}, hits: map[string][]time.Time{}, cut: map[string]time.Time{}}
	o.srv = httptest.NewServer(http.HandlerFunc(o.serve))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *flakyOrigin) script(path string, steps ...string) string {
	o.mu.Lock()
	o.plan[path] = steps
	o.mu.Unlock()
	return o.srv.URL + path
}

func (o *flakyOrigin) serve(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	n := len(o.hits[r.URL.Path])
	o.hits[r.URL.Path] = append(o.hits[r.URL.Path], time.Now())
	steps := o.plan[r.URL.Path]
	o.mu.Unlock()
	if len(steps) == 0 {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Connection", "close")
	switch steps[min(n, len(steps)-1)] {
	case "reset":
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close sends RST
		}
		conn.Close()
	case "503":
		http.Error(w, "busy", http.StatusServiceUnavailable)
	case "ok":
		w.Header().Set("Content-Length", strconv.Itoa(len(o.body)))
		_, _ = w.Write(o.body)
	case "stall":
		w.Header().Set("Content-Length", strconv.Itoa(len(o.body)))
		_, _ = w.Write(o.body[:len(o.body)/2])
		_ = http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done(): // the fetcher gave up and closed the connection
			o.mu.Lock()
			o.cut[r.URL.Path] = time.Now()
			o.mu.Unlock()
		case <-time.After(20 * time.Second):
		}
	}
}

func (o *flakyOrigin) attempts(path string) []time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]time.Time(nil), o.hits[path]...)
}

func (o *flakyOrigin) cutAt(path string) time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.cut[path]
}

// TestFlakyOriginIsRetriedWithinTheBudget: with PROCESS_TIMEOUT_SEC=2 and
// the default three attempts, connection resets and 503s are retried with
// backoff and then succeed; an origin that keeps failing fails the job with
// fetch_failed inside the budget; a body that stalls halfway is cut by the
// budget (the origin sees the connection closed) and the job fails with
// timeout instead of hanging.
func TestFlakyOriginIsRetriedWithinTheBudget(t *testing.T) {
	const budget = 2 * time.Second
	o := newFlakyOrigin(t, readTestdata(t, "cover-50x75-tiny.jpg"))
	svc := startService(t, localStore(t), nil, map[string]string{
		"PROCESS_TIMEOUT_SEC":        "2",
		"SOURCE_ALLOW_PRIVATE_HOSTS": strings.TrimPrefix(o.srv.URL, "http://"),
	})
	cases := []struct {
		name     string
		steps    []string
		state    string
		code     string
		attempts int
	}{
		{"resets then success", []string{"reset", "reset", "ok"}, "succeeded", "", 3},
		{"503s then 200", []string{"503", "503", "ok"}, "succeeded", "", 3},
		{"reset then 503 then 200", []string{"reset", "503", "ok"}, "succeeded", "", 3},
		{"503 every time", []string{"503"}, "failed", "fetch_failed", 3},
		{"reset every time", []string{"reset"}, "failed", "fetch_failed", 3},
		{"body stalls halfway", []string{"stall"}, "failed", "timeout", 1},
		{"503 then a stalled body", []string{"503", "stall"}, "failed", "timeout", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := "/" + strings.ReplaceAll(c.name, " ", "-") + ".jpg"
			retriesBefore := metricValue(t, svc, "covers_ingest_fetch_retries_total")
			start := time.Now()
			j := processAndWait(t, svc, "FLAKY-"+strings.ReplaceAll(c.name, " ", "-"), o.script(path, c.steps...))
			took := time.Since(start)
			hits := o.attempts(path)
			switch {
			case j.State != c.state:
				t.Errorf("job = %+v, want %s", j, c.state)
			case c.code != "" && (j.Error == nil || j.Error.Code != c.code):
				t.Errorf("job error = %+v, want %s", j.Error, c.code)
			}
			if len(hits) != c.attempts {
				t.Errorf("origin saw %d requests, want %d", len(hits), c.attempts)
			}
			if len(hits) > 0 && hits[len(hits)-1].Sub(hits[0]) > budget {
				t.Errorf("attempts spread over %v, past the %v budget", hits[len(hits)-1].Sub(hits[0]), budget)
			}
			if took > budget+1500*time.Millisecond {
				t.Errorf("job finished after %v, want within the %v budget (+1.5s)", took, budget)
			}
			if got := metricValue(t, svc, "covers_ingest_fetch_retries_total") - retriesBefore; got != float64(c.attempts-1) {
				t.Errorf("covers_ingest_fetch_retries_total grew by %v, want %d", got, c.attempts-1)
			}
			if c.code == "timeout" {
				cut := o.cutAt(path)
				if cut.IsZero() || cut.Sub(hits[0]) > budget+time.Second {
					t.Errorf("stalled body: the origin saw the connection closed at %v after the first request, want by the %v budget", cut.Sub(hits[0]), budget)
				}
			}
			t.Logf("%d attempts, job %s in %v", len(hits), j.State, took.Round(time.Millisecond))
		})
	}
	// The stored cover of a job that succeeded after resets renders.
	if w, h := probeGet(t, svc.signed("/covers/FLAKY-resets-then-success/64.webp")); w != 50 || h != 75 {
		t.Errorf("cover after a flaky fetch = %dx%d, want 50x75", w, h)
	}
}

// metricValue reads one unlabelled sample from the service's /metrics.
func metricValue(t *testing.T, svc *service, name string) float64 {
	t.Helper()
	_, body := do(t, http.MethodGet, svc.internal+"/metrics", nil)
	return sampleValue(t, string(body), name, "/metrics")
}

// sampleValue reads the sample name of a text exposition from where.
func sampleValue(t *testing.T, exposition, name, where string) float64 {
	t.Helper()
	for _, line := range strings.Split(exposition, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not in %s", name, where)
	return 0
}
