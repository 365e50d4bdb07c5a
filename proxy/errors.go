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
)

// HTTP-layer errors that handlers return, each naming its code.
var (
	errUnsupportedMedia = cover.NewError(cover.CodeUnsupportedMediaType, "proxy: unsupported media type")
	errBodyTooLarge     = cover.NewError(cover.CodeBodyTooLarge, "proxy: body too large")
	errBadJSON          = cover.NewError(cover.CodeBadJSON, "proxy: malformed JSON")
	errMissingField     = cover.NewError(cover.CodeMissingField, "proxy: missing field")
	errNoCover          = cover.NewError(cover.CodeNoCover, "proxy: no such cover")
	errNotFound         = cover.NewError(cover.CodeNotFound, "proxy: not found")
	errMethod           = cover.NewError(cover.CodeMethodNotAllowed, "proxy: method not allowed")
	errPanic            = cover.NewError(cover.CodeInternal, "proxy: panic")
)

// statusClientClosed is nginx's 499: the client went away (not an error).
const statusClientClosed = 499

// apiError is the answer to an error: every error a handler returns goes
// through classify, and only the code's fixed text reaches clients.
type apiError struct {
	Status  int
	Code    string
	Message string
}

// answer is how one code is answered: its status and, for an error of the
// request itself, the code the answer names when it is not the code itself.
type answer struct {
	status int
	as     cover.Code
}

// statusTable is the one status mapping of the service, keyed by the one
// code set (cover.Code). An error of the request itself is answered under
// its code, or under as where the client can do nothing with the finer
// code: a cover whose stored original cannot be rendered is
// unusable_original whatever the reason, and a full job queue is overloaded
// like a full render queue. A failed job (jobError) is answered under its
// own recorded code with its status here. A code without a row (internal,
// canceled, the Kafka adapter's) is 500 internal.
var statusTable = map[cover.Code]answer{
	cover.CodeBadPath:         {status: 400},
	cover.CodeBadSize:         {status: 400},
	cover.CodeBadFormat:       {status: 400},
	cover.CodeBadQuery:        {status: 400},
	cover.CodeNonCanonicalURL: {status: 400},
	cover.CodeBadExpiry:       {status: 400},
	cover.CodeBadJSON:         {status: 400},
	cover.CodeMissingField:    {status: 400},
	cover.CodeInvalidBookID:   {status: 400},
	cover.CodeInvalidURL:      {status: 400},
	cover.CodeBlockedAddress:  {status: 400},

	cover.CodeUnauthorized:     {status: 401},
	cover.CodeForbidden:        {status: 403},
	cover.CodeMissingSignature: {status: 403},
	cover.CodeBadSignature:     {status: 403},
	cover.CodeNoCover:          {status: 404},
	cover.CodeJobNotFound:      {status: 404},
	cover.CodeNotFound:         {status: 404},
	cover.CodeMethodNotAllowed: {status: 405},
	cover.CodeExpired:          {status: 410},

	cover.CodeBodyTooLarge:         {status: 413},
	cover.CodeUnsupportedMediaType: {status: 415},

	cover.CodeUnusableOriginal: {status: 422},
	cover.CodeNotAnImage:       {status: 422, as: cover.CodeUnusableOriginal},
	cover.CodeUnsupportedType:  {status: 422, as: cover.CodeUnusableOriginal},
	cover.CodeTooManyPixels:    {status: 422, as: cover.CodeUnusableOriginal},
	cover.CodeCorruptImage:     {status: 422, as: cover.CodeUnusableOriginal},
	cover.CodePlaceholderImage: {status: 422},
	cover.CodeTooLarge:         {status: 422},

	cover.CodeClientClosed: {status: statusClientClosed},

	cover.CodeSourceRejected:   {status: 502},
	cover.CodeFetchFailed:      {status: 502},
	cover.CodeTooManyRedirects: {status: 502},

	cover.CodeOverloaded:         {status: 503},
	cover.CodeQueueFull:          {status: 503, as: cover.CodeOverloaded},
	cover.CodeShuttingDown:       {status: 503},
	cover.CodeStorageUnavailable: {status: 503},

	cover.CodeTimeout:        {status: 504},
	cover.CodeStorageTimeout: {status: 504},
}

var errInternal = apiError{500, string(cover.CodeInternal), cover.CodeInternal.Message()}

// retryable reports whether the answer carries Retry-After: overload, an
// unavailable dependency, and a store that did not answer within the
// request's store budget (504 storage_timeout), all passing conditions.
func (a apiError) retryable() bool {
	return a.Status == http.StatusServiceUnavailable || a.Status == http.StatusTooManyRequests || a.Code == string(cover.CodeStorageTimeout)
}

// jobError is a POST /v2/process job that failed, or did not finish in time
// (code timeout): its recorded code decides the status (statusTable), its
// recorded text is the message, and the job id goes into the error body.
type jobError struct {
	JobID   string
	Code    cover.Code
	Message string // the job's fixed public text
}

func (e *jobError) Error() string { return "proxy: job " + e.JobID + " failed: " + string(e.Code) }

// classify maps an error to its status, code and public text.
func classify(err error) apiError {
	if je := (*jobError)(nil); errors.As(err, &je) {
		a, ok := statusTable[je.Code]
		if !ok {
			return errInternal
		}
		return apiError{a.status, string(je.Code), je.Message}
	}
	code := codeOf(err)
	a, ok := statusTable[code]
	if !ok {
		return errInternal
	}
	if a.as != "" {
		code = a.as
	}
	return apiError{a.status, string(code), code.Message()}
}

// codeOf names the code of a request's error: the code its chain names
// (cover.CodeOf), else what the errors that name none mean to a request: a
// store object that is not there is a cover that is not (the book or its
// original is gone), a cancelled request is a client that went away, a
// deadline that passed is a request that took too long.
func codeOf(err error) cover.Code {
	if c, ok := cover.CodeOf(err); ok {
		return c
	}
	switch {
	case errors.Is(err, cache.ErrNotFound):
		return cover.CodeNoCover
	case errors.Is(err, context.Canceled):
		return cover.CodeClientClosed
	case errors.Is(err, context.DeadlineExceeded):
		return cover.CodeTimeout
	}
	return cover.CodeInternal
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
