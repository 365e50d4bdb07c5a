package proxy

import (
	"context"
	"net/http"
	"strings"
	"sync"

	"github.com/julienschmidt/httprouter"
)

// health is liveness: the process answers. Frozen shape.
func (h *handlers) health(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) error {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "stub": false})
	return nil
}

// ready is readiness: every dependency answers within ReadyTimeout. The
// checks run concurrently so one slow dependency costs one timeout.
func (h *handlers) ready(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if h.d.Draining != nil && h.d.Draining() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "draining", "reason": "shutting down"})
		return nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.ReadyTimeout)
	defer cancel()
	errs := make([]error, len(h.d.Checks))
	var wg sync.WaitGroup
	for i, c := range h.d.Checks {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = c.Ping(ctx) }()
	}
	wg.Wait()
	checks := map[string]string{}
	reason := ""
	for i, c := range h.d.Checks {
		checks[c.Name] = "ok"
		if errs[i] != nil {
			checks[c.Name] = "unreachable"
			if reason == "" {
				reason = strings.ReplaceAll(c.Name, "_", " ") + " unreachable"
			}
			h.log.Warn("not ready", "request_id", requestID(r.Context()), "check", c.Name, "error", errs[i])
		}
	}
	if reason != "" {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "reason": reason, "checks": checks})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": checks})
	return nil
}
