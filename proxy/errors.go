package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
	"github.com/bookcovers/image-worker/signing"
	"github.com/bookcovers/image-worker/transform"
)

// HTTP-layer errors that handlers return.
var (
	errUnsupportedMedia = errors.New("proxy: unsupported media type")
	errBodyTooLarge     = errors.New("proxy: body too large")
	errBadJSON          = errors.New("proxy: malformed JSON")
	errMissingField     = errors.New("proxy: missing field")
	errNoCover          = errors.New("proxy: no such cover")
	errNotFound         = errors.New("proxy: not found")
	errMethod           = errors.New("proxy: method not allowed")
	errPanic            = errors.New("proxy: panic")
)

// statusClientClosed is nginx's 499: the client went away (not an error).
const statusClientClosed = 499

// codeStorageTimeout is the code of a 504 for a store that did not answer in time.
const codeStorageTimeout = "storage_timeout"

// apiError is the one status mapping of the service: every error a handler
// returns goes through classify, and only its fixed text reaches clients.
type apiError struct {
	Status  int
	Code    string
	Message string
}

var errorTable = []struct {
	err error
	api apiError
}{
	{errBadPath, apiError{400, "bad_path", "the cover path is malformed"}},
	{errBadSize, apiError{400, "bad_size", "size must be a preset, W or WxH within the allowed range"}},
	{errBadFormat, apiError{400, "bad_format", "format must be webp or avif"}},
	{errBadQuery, apiError{400, "bad_query", "only the v, exp and sig parameters are allowed, once each"}},
	{errNonCanonical, apiError{400, "non_canonical_url", "the URL must be exactly as signed: no needless escaping, no empty or reordered parameters, no extra slashes"}},
	{errBadJSON, apiError{400, "bad_json", "the body must be a JSON object"}},
	{errMissingField, apiError{400, "missing_field", "book_id and image_url are required strings"}},
	{cover.ErrInvalidBookID, apiError{400, "invalid_book_id", ingest.Message("invalid_book_id")}},
	{ingest.ErrInvalidURL, apiError{400, "invalid_url", ingest.Message("invalid_url")}},
	{ingest.ErrBlockedAddress, apiError{400, "blocked_address", ingest.Message("blocked_address")}},
	{transform.ErrInvalidRequest, apiError{400, "bad_size", "size must be a preset, W or WxH within the allowed range"}},
	{signing.ErrBadExpiry, apiError{400, "bad_expiry", "exp must be unix seconds"}},
	{errTokenMissing, apiError{401, "unauthorized", "an Authorization: Bearer token is required"}},
	{errTokenWrong, apiError{403, "forbidden", "the bearer token is not accepted"}},
	{signing.ErrMissingSignature, apiError{403, "missing_signature", "the URL is not signed"}},
	{signing.ErrBadSignature, apiError{403, "bad_signature", "the URL signature is not valid"}},
	{signing.ErrExpired, apiError{410, "expired", "the URL has expired"}},
	{errNoCover, apiError{404, "no_cover", "there is no cover for this book"}},
	{cache.ErrNotFound, apiError{404, "no_cover", "there is no cover for this book"}},
	{ingest.ErrJobNotFound, apiError{404, "job_not_found", "there is no such job"}},
	{errNotFound, apiError{404, "not_found", "not found"}},
	{errMethod, apiError{405, "method_not_allowed", "method not allowed"}},
	{errBodyTooLarge, apiError{413, "body_too_large", "the body is larger than 64 KiB"}},
	{errUnsupportedMedia, apiError{415, "unsupported_media_type", "the body must be application/json"}},
	{transform.ErrTooManyPixels, apiError{422, "unusable_original", "the stored original cannot be rendered"}},
	{transform.ErrNotAnImage, apiError{422, "unusable_original", "the stored original cannot be rendered"}},
	{transform.ErrUnsupportedType, apiError{422, "unusable_original", "the stored original cannot be rendered"}},
	{transform.ErrRenderFailed, apiError{422, "unusable_original", "the stored original cannot be rendered"}},
	{transform.ErrOverloaded, apiError{503, "overloaded", "too many renders in progress, retry shortly"}},
	{ingest.ErrQueueFull, apiError{503, "overloaded", "too many jobs are waiting, retry shortly"}},
	{ingest.ErrClosed, apiError{503, "shutting_down", "the service is shutting down"}},
	{cache.ErrUnavailable, apiError{503, "storage_unavailable", "object storage is unavailable, retry shortly"}},
	{cache.ErrTimeout, apiError{504, codeStorageTimeout, "object storage timed out"}},
	{context.Canceled, apiError{statusClientClosed, "client_closed", "the client closed the request"}},
	{context.DeadlineExceeded, apiError{504, "timeout", "the request took too long"}},
}

var errInternal = apiError{500, "internal", "internal error"}

// retryable reports whether the answer carries Retry-After: overload, an
// unavailable dependency, and a store that did not answer within the
// request's store budget (504 storage_timeout), all passing conditions.
func (a apiError) retryable() bool {
	return a.Status == http.StatusServiceUnavailable || a.Status == http.StatusTooManyRequests || a.Code == codeStorageTimeout
}

// jobError is a POST /v2/process job that failed, or did not finish in time
// (code "timeout"): its stable code decides the status, and the job id goes
// into the error body.
type jobError struct {
	JobID   string
	Code    string
	Message string // the job's fixed public text
}

func (e *jobError) Error() string { return "proxy: job " + e.JobID + " failed: " + e.Code }

// jobCodeStatus maps a job's error code (ingest.Code) to its status.
var jobCodeStatus = map[string]int{
	"invalid_url": 400, "blocked_address": 400, "invalid_book_id": 400,
	"not_an_image": 422, "unsupported_type": 422, "too_many_pixels": 422, "too_large": 422, "corrupt_image": 422,
	"source_rejected": 502, "fetch_failed": 502, "too_many_redirects": 502,
	"timeout": 504, "storage_timeout": 504,
	"storage_unavailable": 503, "queue_full": 503, "shutting_down": 503, "overloaded": 503,
}

// classify maps an error to its status, code and public text.
func classify(err error) apiError {
	var je *jobError
	if errors.As(err, &je) {
		if st, ok := jobCodeStatus[je.Code]; ok {
			return apiError{st, je.Code, je.Message}
		}
		return errInternal
	}
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			return e.api
		}
	}
	return errInternal
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	JobID string `json:"job_id,omitempty"` // POST /v2/process only
}

// writeError writes the mapped error as JSON, never cacheable for long, and
// logs the wrapped error at the level its status deserves.
func (h *handlers) writeError(w http.ResponseWriter, r *http.Request, err error) {
	a := classify(err)
	hd := w.Header()
	hd.Del("ETag")
	hd.Del("Last-Modified")
	hd.Set("Content-Type", "application/json")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	if a.retryable() {
		hd.Set("Retry-After", strconv.Itoa(int(max(1, h.cfg.RetryAfter.Seconds()))))
	}
	level := slog.LevelInfo
	switch {
	case a.Status >= 500 && a.Status != http.StatusServiceUnavailable:
		level = slog.LevelError
	case a.Status == http.StatusServiceUnavailable || a.Status == http.StatusTooManyRequests:
		level = slog.LevelWarn
	}
	h.log.Log(r.Context(), level, "request failed", "request_id", requestID(r.Context()), "status", a.Status, "code", a.Code, "error", err)
	var body errorBody
	body.Error.Code, body.Error.Message = a.Code, a.Message
	if je := (*jobError)(nil); errors.As(err, &je) {
		body.JobID = je.JobID
	}
	b, _ := json.Marshal(body)
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(a.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}
