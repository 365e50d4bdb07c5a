package proxy

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/julienschmidt/httprouter"

	"github.com/bookcovers/image-worker/ingest"
)

// health is liveness: the process answers. Frozen shape.
func (h *handlers) health(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) error {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "stub": false})
	return nil
}

// ready is readiness, "send me traffic": 200 while this replica serves,
// whatever its dependencies' state, and 503 only while it drains. With the
// object store or Kafka down a replica still serves the covers it holds in
// memory, answers the rest at once (503 + Retry-After) and keeps the jobs it
// accepted; a readiness that followed a shared dependency would take every
// replica out of the Service at the same moment and turn that outage into a
// full one (Kubernetes' own guidance). The body names each dependency's
// state ("degraded" when one is down), as covers_dependency_up does.
//
// A replica that alone cannot reach the store while others can stays in the
// pool too: it answers fast, and an edge that retries a 503 on the next
// upstream (deploy/nginx/cdn.conf) hides it; outlier ejection belongs to the
// load balancer, which sees every replica.
func (h *handlers) ready(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if h.d.Draining() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "draining", "reason": "shutting down"})
		return nil
	}
	checks, down := h.deps.check(r.Context())
	if down == "" {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": checks})
		return nil
	}
	h.log.Warn("degraded", "request_id", requestID(r.Context()), "reason", down)
	writeJSON(w, http.StatusOK, map[string]any{"status": "degraded", "reason": down, "checks": checks})
	return nil
}

// dependencies pings every Check concurrently within a budget and keeps
// the last answers for covers_dependency_up.
type dependencies struct {
	checks  []Check
	timeout time.Duration
	panics  *metrics.Counter

	mu   sync.Mutex
	up   map[string]bool
	last time.Time
}

// dependencyStale is how old the last answers may be when metrics are
// scraped before a new round of pings.
const dependencyStale = 5 * time.Second

func newDependencies(checks []Check, timeout time.Duration, set *metrics.Set) *dependencies {
	d := &dependencies{checks: checks, timeout: timeout, up: map[string]bool{},
		panics: set.NewCounter(`covers_panics_total{component="readiness"}`)}
	for _, c := range checks {
		set.NewGauge(fmt.Sprintf(`covers_dependency_up{dependency=%q}`, c.Name), func() float64 {
			d.mu.Lock()
			stale := time.Since(d.last) > dependencyStale
			d.mu.Unlock()
			if stale {
				d.check(context.Background())
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			if d.up[c.Name] {
				return 1
			}
			return 0
		})
	}
	return d
}

// check pings every dependency (one slow dependency costs one timeout) and
// returns each one's state and the first that is down ("" when none is).
func (d *dependencies) check(ctx context.Context) (map[string]string, string) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	errs := make([]error, len(d.checks))
	var wg sync.WaitGroup
	for i, c := range d.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer ingest.RecoverTo(&errs[i], d.panics, "ping "+c.Name)
			errs[i] = c.Ping(ctx)
		}()
	}
	wg.Wait()
	states := make(map[string]string, len(d.checks))
	down := ""
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, c := range d.checks {
		d.up[c.Name] = errs[i] == nil
		states[c.Name] = "ok"
		if errs[i] != nil {
			states[c.Name] = "unreachable"
			if down == "" {
				down = strings.ReplaceAll(c.Name, "_", " ") + " unreachable"
			}
		}
	}
	d.last = time.Now()
	return states, down
}
