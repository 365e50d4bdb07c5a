package ingest

import (
	"context"
	"errors"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/transform"
)

// Job-level errors, each naming its cover.Code.
var (
	ErrJobNotFound = cover.NewError(cover.CodeJobNotFound, "ingest: job not found")
	ErrQueueFull   = cover.NewError(cover.CodeQueueFull, "ingest: job queue full")
	ErrClosed      = cover.NewError(cover.CodeShuttingDown, "ingest: shutting down")
)

// jobCodes are the codes a failed job records (openapi.yaml JobErrorCode).
// An error naming another code (a request's own, such as bad_size) cannot
// come from taking an original in: it is recorded as internal.
var jobCodes = map[cover.Code]bool{
	cover.CodeInvalidBookID: true, cover.CodeInvalidURL: true, cover.CodeBlockedAddress: true,
	cover.CodeTooManyRedirects: true, cover.CodeTooLarge: true, cover.CodeSourceRejected: true,
	cover.CodeTimeout: true, cover.CodeFetchFailed: true,
	cover.CodeUnsupportedType: true, cover.CodeTooManyPixels: true, cover.CodeNotAnImage: true,
	cover.CodeCorruptImage: true, cover.CodePlaceholderImage: true, cover.CodeOverloaded: true,
	cover.CodeStorageUnavailable: true, cover.CodeStorageTimeout: true,
	cover.CodeQueueFull: true, cover.CodeShuttingDown: true,
	cover.CodeCanceled: true, cover.CodeInternal: true,
}

// Code returns the stable error code of an ingest failure, the one that
// jobs, logs and events carry: the code the error names (cover.CodeOf: the
// fetcher's, transform's, the store's and these sentinels name theirs) when
// it is one of jobCodes, else timeout for a deadline that passed, canceled
// for a caller that went away, and internal for an error of no job class.
// Its public text is Code.Message.
func Code(err error) cover.Code {
	if err == nil {
		return ""
	}
	if c, ok := cover.CodeOf(err); ok && jobCodes[c] {
		return c
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return cover.CodeTimeout
	case errors.Is(err, context.Canceled):
		return cover.CodeCanceled
	}
	return cover.CodeInternal
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
// blocked address, not an image, corrupt image, a placeholder, too large,
// too many pixels, upstream 4xx) is permanent.
func Retryable(err error) bool {
	return IsRetryable(err) || retryableStore(err)
}
