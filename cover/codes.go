package cover

import (
	"maps"
	"slices"
)

// Code is a stable error code: the "code" of an HTTP error answer, of a
// failed job's record, of a result event and of a dead letter. Each code has
// one fixed public text (Message); the error behind it goes to the log.
// Published codes never change. An error names its code by wrapping a
// sentinel made with NewError (CodeOf finds it); which HTTP status a code
// answers is package proxy's (its one status table).
type Code string

// Codes of requests the HTTP layer refuses.
const (
	CodeBadPath              Code = "bad_path"
	CodeBadSize              Code = "bad_size"
	CodeBadFormat            Code = "bad_format"
	CodeBadQuery             Code = "bad_query"
	CodeNonCanonicalURL      Code = "non_canonical_url"
	CodeBadExpiry            Code = "bad_expiry"
	CodeBadJSON              Code = "bad_json"
	CodeMissingField         Code = "missing_field"
	CodeUnauthorized         Code = "unauthorized"
	CodeForbidden            Code = "forbidden"
	CodeMissingSignature     Code = "missing_signature"
	CodeBadSignature         Code = "bad_signature"
	CodeExpired              Code = "expired"
	CodeNoCover              Code = "no_cover"
	CodeJobNotFound          Code = "job_not_found"
	CodeNotFound             Code = "not_found"
	CodeMethodNotAllowed     Code = "method_not_allowed"
	CodeBodyTooLarge         Code = "body_too_large"
	CodeUnsupportedMediaType Code = "unsupported_media_type"
	CodeUnusableOriginal     Code = "unusable_original"
	CodeClientClosed         Code = "client_closed"
)

// Codes of taking an original in (jobs, events, POST /process).
const (
	CodeInvalidBookID    Code = "invalid_book_id"
	CodeInvalidURL       Code = "invalid_url"
	CodeBlockedAddress   Code = "blocked_address"
	CodeTooManyRedirects Code = "too_many_redirects"
	CodeTooLarge         Code = "too_large"
	CodeSourceRejected   Code = "source_rejected"
	CodeFetchFailed      Code = "fetch_failed"
	CodeUnsupportedType  Code = "unsupported_type"
	CodeTooManyPixels    Code = "too_many_pixels"
	CodeNotAnImage       Code = "not_an_image"
	CodeCorruptImage     Code = "corrupt_image"
	// CodePlaceholderImage: the original decodes but is a publisher's
	// "no image" picture (tiny, near-uniform, a known placeholder, or an
	// aspect out of range), never a book's cover.
	CodePlaceholderImage Code = "placeholder_image"
	CodeQueueFull        Code = "queue_full"
	CodeCanceled         Code = "canceled"
)

// Codes of the Kafka adapter's own failures (dead letters).
const (
	CodeBadEvent      Code = "bad_event"
	CodeOutcomeFailed Code = "outcome_failed"
)

// Codes every part of the service may give.
const (
	CodeOverloaded         Code = "overloaded"
	CodeShuttingDown       Code = "shutting_down"
	CodeStorageUnavailable Code = "storage_unavailable"
	CodeStorageTimeout     Code = "storage_timeout"
	CodeTimeout            Code = "timeout"
	CodeInternal           Code = "internal"
)

// messages is the fixed public text of every code.
var messages = map[Code]string{
	CodeBadPath:              "the cover path is malformed",
	CodeBadSize:              "size must be a preset, W, WxH or WxHf within the allowed range",
	CodeBadFormat:            "format must be " + formatNames(),
	CodeBadQuery:             "only the v, exp and sig parameters are allowed, once each",
	CodeNonCanonicalURL:      "the URL must be exactly as signed: no needless escaping, no empty or reordered parameters, no extra slashes",
	CodeBadExpiry:            "exp must be unix seconds",
	CodeBadJSON:              "the body must be a JSON object",
	CodeMissingField:         "book_id and image_url are required strings",
	CodeUnauthorized:         "an Authorization: Bearer token is required",
	CodeForbidden:            "the bearer token is not accepted",
	CodeMissingSignature:     "the URL is not signed",
	CodeBadSignature:         "the URL signature is not valid",
	CodeExpired:              "the URL has expired",
	CodeNoCover:              "there is no cover for this book",
	CodeJobNotFound:          "there is no such job",
	CodeNotFound:             "not found",
	CodeMethodNotAllowed:     "method not allowed",
	CodeBodyTooLarge:         "the body is larger than 64 KiB",
	CodeUnsupportedMediaType: "the body must be application/json",
	CodeUnusableOriginal:     "the stored original cannot be rendered",
	CodeClientClosed:         "the client closed the request",

	CodeInvalidBookID:    "book_id must be 1-128 characters of [A-Za-z0-9._-] and must not start with '.'",
	CodeInvalidURL:       "image_url must be an absolute http or https URL without credentials, at most 2048 bytes",
	CodeBlockedAddress:   "image_url points to an address or port that is not allowed",
	CodeTooManyRedirects: "the source redirected too many times",
	CodeTooLarge:         "the original is larger than the size limit",
	CodeSourceRejected:   "the source answered with a client error",
	CodeFetchFailed:      "the original could not be fetched",
	CodeUnsupportedType:  "the image type is not supported",
	CodeTooManyPixels:    "the original has more pixels than allowed",
	CodeNotAnImage:       "the original is not a supported image",
	CodeCorruptImage:     "the original is truncated or corrupt and cannot be decoded",
	CodePlaceholderImage: "the original is a placeholder picture (tiny, blank or a known \"no image\" picture), not a cover",
	CodeQueueFull:        "too many jobs are waiting",
	CodeCanceled:         "the request was cancelled",

	CodeBadEvent:      "the event is not a JSON object with a valid book_id",
	CodeOutcomeFailed: "the result could not be published or recorded",

	CodeOverloaded:         "the service is busy, retry shortly",
	CodeShuttingDown:       "the service is shutting down",
	CodeStorageUnavailable: "object storage is unavailable, retry shortly",
	CodeStorageTimeout:     "object storage timed out",
	CodeTimeout:            "the request or the fetch of the original took too long",
	CodeInternal:           "internal error",
}

// Message is the fixed public text of the code; an unknown code has the
// text of CodeInternal.
func (c Code) Message() string {
	if m, ok := messages[c]; ok {
		return m
	}
	return messages[CodeInternal]
}

// Codes returns every code, sorted.
func Codes() []Code { return slices.Sorted(maps.Keys(messages)) }
