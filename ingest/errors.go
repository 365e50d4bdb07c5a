package ingest

import (
	"context"
	"errors"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/transform"
)

// Job-level errors.
var (
	ErrJobNotFound = errors.New("ingest: job not found")
	ErrQueueFull   = errors.New("ingest: job queue full")
	ErrClosed      = errors.New("ingest: shutting down")
)

// codes maps each failure class to the stable code that jobs, logs and
// events carry. The first match in order wins.
var codes = []struct {
	err  error
	code string
}{
	{cover.ErrInvalidBookID, "invalid_book_id"},
	{ErrInvalidURL, "invalid_url"},
	{ErrBlockedAddress, "blocked_address"},
	{ErrTooManyRedirects, "too_many_redirects"},
	{ErrTooLarge, "too_large"},
	{ErrSourceRejected, "source_rejected"},
	{ErrTimeout, "timeout"},
	{ErrFetchFailed, "fetch_failed"},
	{transform.ErrUnsupportedType, "unsupported_type"},
	{transform.ErrTooManyPixels, "too_many_pixels"},
	{transform.ErrNotAnImage, "not_an_image"},
	{transform.ErrRenderFailed, "corrupt_image"},
	{transform.ErrOverloaded, "overloaded"},
	{cache.ErrUnavailable, "storage_unavailable"},
	{cache.ErrTimeout, "storage_timeout"},
	{ErrQueueFull, "queue_full"},
	{ErrClosed, "shutting_down"},
	{context.DeadlineExceeded, "timeout"},
	{context.Canceled, "canceled"},
}

// Code returns the stable error code of an ingest failure ("internal" when
// the error is of no known class).
func Code(err error) string {
	if err == nil {
		return ""
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "internal"
}

// Message returns the fixed public text for an error code; internals stay in logs.
func Message(code string) string {
	if m, ok := messages[code]; ok {
		return m
	}
	return "internal error"
}

var messages = map[string]string{
	"invalid_book_id":     "book_id must be 1-128 characters of [A-Za-z0-9._-] and must not start with '.'",
	"invalid_url":         "image_url must be an absolute http or https URL without credentials, at most 2048 bytes",
	"blocked_address":     "image_url points to an address or port that is not allowed",
	"too_many_redirects":  "the source redirected too many times",
	"too_large":           "the original is larger than the size limit",
	"source_rejected":     "the source answered with a client error",
	"timeout":             "fetching the original timed out",
	"fetch_failed":        "the original could not be fetched",
	"unsupported_type":    "the image type is not supported",
	"too_many_pixels":     "the original has more pixels than allowed",
	"not_an_image":        "the original is not a supported image",
	"corrupt_image":       "the original is truncated or corrupt and cannot be decoded",
	"overloaded":          "the service is busy; the job is retried",
	"storage_unavailable": "object storage is unavailable",
	"storage_timeout":     "object storage timed out",
	"queue_full":          "too many jobs are waiting",
	"shutting_down":       "the service is shutting down",
	"canceled":            "the request was cancelled",
}

// retryableStore reports whether a job failure is a passing fault of the
// service's own (storage, or a full render queue while checking the
// original) that the job queue should retry rather than record as failed.
func retryableStore(err error) bool {
	return errors.Is(err, cache.ErrUnavailable) || errors.Is(err, cache.ErrTimeout) || errors.Is(err, transform.ErrOverloaded)
}

// Retryable reports whether a warm failure may pass if tried again later:
// fetch timeouts, connection errors and upstream 5xx (IsRetryable), passing
// storage faults and a full render queue. Everything else (invalid URL,
// blocked address, not an image, corrupt image, too large, too many pixels,
// upstream 4xx) is permanent.
func Retryable(err error) bool {
	return IsRetryable(err) || retryableStore(err)
}
