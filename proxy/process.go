package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/bookcovers/image-worker/ingest"
)

// processRequest is the frozen body of POST /process.
type processRequest struct {
	BookID   *string `json:"book_id"`
	ImageURL *string `json:"image_url"`
}

// processResponse is the frozen 202 body; job_id is the additive field.
type processResponse struct {
	Message string `json:"message"`
	Stub    bool   `json:"stub"`
	JobID   string `json:"job_id"`
}

// jobView is the public shape of GET /jobs/{job_id}. The image URL is not
// echoed: it may carry the source's own tokens.
type jobView struct {
	JobID   string           `json:"job_id"`
	BookID  string           `json:"book_id"`
	State   ingest.JobState  `json:"state"`
	Version string           `json:"version,omitempty"`
	Error   *ingest.JobError `json:"error,omitempty"`
}

// process accepts a warm request: 202 means the job is durably recorded.
func (h *handlers) process(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return fmt.Errorf("process: content type %q: %w", r.Header.Get("Content-Type"), errUnsupportedMedia)
	}
	req, err := decodeProcess(http.MaxBytesReader(w, r.Body, h.cfg.ProcessMaxBody))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	refresh := q.Get("refresh") == "true"
	job, err := h.d.Jobs.Submit(r.Context(), *req.BookID, *req.ImageURL, refresh)
	if err != nil {
		return fmt.Errorf("process: %w", err)
	}
	w.Header().Set("Location", "/jobs/"+job.ID)
	writeJSON(w, http.StatusAccepted, processResponse{Message: "accepted", Stub: false, JobID: job.ID})
	return nil
}

// decodeProcess reads one JSON object with string book_id and image_url.
// Unknown fields are ignored (additive); trailing data is refused.
func decodeProcess(body io.Reader) (processRequest, error) {
	data, err := io.ReadAll(body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return processRequest{}, fmt.Errorf("process: %w", errBodyTooLarge)
	}
	if err != nil {
		return processRequest{}, fmt.Errorf("process: read body: %w", errBadJSON)
	}
	var req processRequest
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&req); err != nil {
		return processRequest{}, fmt.Errorf("process: decode: %w", errBadJSON)
	}
	if dec.More() {
		return processRequest{}, fmt.Errorf("process: trailing data: %w", errBadJSON)
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("null")) {
		return processRequest{}, fmt.Errorf("process: null body: %w", errBadJSON)
	}
	if req.BookID == nil || req.ImageURL == nil {
		return processRequest{}, fmt.Errorf("process: %w", errMissingField)
	}
	return req, nil
}

// job serves GET /jobs/{job_id}.
func (h *handlers) job(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	job, err := h.d.Jobs.Get(r.Context(), ps.ByName("job_id"))
	if err != nil {
		return fmt.Errorf("job: %w", err)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, jobView{JobID: job.ID, BookID: job.BookID, State: job.State, Version: job.Version, Error: job.Error})
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("X-Content-Type-Options", "nosniff")
	if hd.Get("Cache-Control") == "" {
		hd.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
