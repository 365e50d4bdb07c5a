package proxy

import (
	"context"
	"net/http"

	"github.com/julienschmidt/httprouter"
)

// health is liveness: the process answers. Frozen shape.
func (h *handlers) health(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) error {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "stub": false})
	return nil
}

// ready is readiness: the object store answers within ReadyTimeout.
func (h *handlers) ready(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.ReadyTimeout)
	defer cancel()
	if err := h.d.Store.Ping(ctx); err != nil {
		h.log.Warn("not ready", "request_id", requestID(r.Context()), "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "reason": "object store unreachable"})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
	return nil
}
