package proxy

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
)

// JobWaiter waits for a job this process runs to finish.
type JobWaiter interface {
	Wait(ctx context.Context, id string) (ingest.Job, error)
}

// notFinishedMessage is the public text of a /v2/process job still running.
const notFinishedMessage = "the job did not finish in time; GET /jobs/{job_id} reports it"

// processV2 serves POST /v2/process: the job is submitted exactly like POST
// /process (same body, errors, ?refresh and deduplication), then the request
// waits for it up to Deps.ProcessWait (within the request's own deadline)
// and answers with the cover's metadata and signed paths. A failed job
// answers the status of its code with job_id; a job still running answers
// 504 timeout with Location: /jobs/{job_id}, and keeps running.
func (h *handlers) processV2(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return fmt.Errorf("process v2: content type %q: %w", r.Header.Get("Content-Type"), errUnsupportedMedia)
	}
	req, err := decodeProcess(http.MaxBytesReader(w, r.Body, h.cfg.ProcessMaxBody))
	if err != nil {
		return err
	}
	job, err := h.d.Jobs.Submit(r.Context(), *req.BookID, *req.ImageURL, r.URL.Query().Get("refresh") == "true")
	if err != nil {
		return fmt.Errorf("process v2: %w", err)
	}
	wctx, cancel := context.WithTimeout(r.Context(), h.d.ProcessWait)
	defer cancel()
	done, err := h.d.JobWaiter.Wait(wctx, job.ID)
	switch {
	case errors.Is(r.Context().Err(), context.Canceled):
		return fmt.Errorf("process v2: job %s: %w", job.ID, r.Context().Err()) // the client went away
	case err != nil && wctx.Err() == nil:
		return fmt.Errorf("process v2: wait for job %s: %w", job.ID, err)
	case err != nil || !done.State.Finished():
		w.Header().Set("Location", "/jobs/"+job.ID)
		return &jobError{JobID: job.ID, Code: cover.CodeTimeout, Message: notFinishedMessage}
	case done.State == ingest.JobFailed:
		code, msg := cover.CodeInternal, cover.CodeInternal.Message()
		if done.Error != nil {
			code, msg = cover.Code(done.Error.Code), done.Error.Message
		}
		return &jobError{JobID: job.ID, Code: code, Message: msg}
	}
	m, err := h.d.Manifests.Current(r.Context(), done.BookID)
	if err != nil {
		return fmt.Errorf("process v2: job %s: %w", job.ID, err)
	}
	if m.Version != done.Version {
		h.log.Info("a newer version replaced the job's", "request_id", requestID(r.Context()), "book_id", m.BookID,
			"job_version", done.Version, "version", m.Version)
	}
	view, err := h.metaView(r.Context(), m, job.ID)
	if err != nil {
		return fmt.Errorf("process v2: job %s: %w", job.ID, err)
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}
