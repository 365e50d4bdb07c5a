package ingest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
)

// Errors returned by the fetcher. Each is a sentinel naming its cover.Code:
// the fetcher wraps it with a lowercase operation prefix ("fetch: ...: %w");
// test with errors.Is.
var (
	// ErrInvalidURL: not http/https, userinfo present, no host, longer than
	// MaxURLLength, unparsable, malformed host (an invalid "xn--" label too)
	// or bad port.
	ErrInvalidURL = cover.NewError(cover.CodeInvalidURL, "ingest: invalid source url")
	// ErrBlockedAddress: the destination is refused by policy: a blocked or
	// denied address (literal IP in the URL or a redirect, or any resolved
	// address at dial time), a port that is not allowed, or a redirect into
	// an allow-listed host from another host.
	ErrBlockedAddress = cover.NewError(cover.CodeBlockedAddress, "ingest: blocked source address")
	// ErrTooManyRedirects: more than MaxRedirects redirects, or a redirect loop.
	ErrTooManyRedirects = cover.NewError(cover.CodeTooManyRedirects, "ingest: too many redirects")
	// ErrFetchFailed: connection errors, upstream 5xx after retries, or an
	// unexpected status (3xx without Location, 1xx...).
	ErrFetchFailed = cover.NewError(cover.CodeFetchFailed, "ingest: fetch failed")
	// ErrSourceRejected: the upstream answered 4xx. Never retried.
	ErrSourceRejected = cover.NewError(cover.CodeSourceRejected, "ingest: source rejected the request")
	// ErrTooLarge: the body is larger than MaxBytes (declared or streamed).
	ErrTooLarge = cover.NewError(cover.CodeTooLarge, "ingest: original too large")
	// ErrTimeout: the fetch budget (or one attempt's share of it) ran out.
	ErrTimeout = cover.NewError(cover.CodeTimeout, "ingest: fetch timed out")
)

// transientError marks an ErrFetchFailed that is worth another attempt:
// connection refused/reset, a dropped connection, an upstream 5xx.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

func transient(err error) error { return &transientError{err: err} }

// IsRetryable reports whether trying the same fetch again later may succeed:
// true for ErrTimeout and for ErrFetchFailed caused by connection errors or
// an upstream 5xx; false for policy errors, invalid URLs, 4xx, oversized
// bodies, too many redirects, caller cancellation and permanent failures
// (TLS certificate errors, unknown host, unexpected status).
func IsRetryable(err error) bool {
	switch {
	case err == nil,
		errors.Is(err, ErrInvalidURL),
		errors.Is(err, ErrBlockedAddress),
		errors.Is(err, ErrTooManyRedirects),
		errors.Is(err, ErrSourceRejected),
		errors.Is(err, ErrTooLarge):
		return false
	case errors.Is(err, ErrTimeout):
		return true
	}
	var t *transientError
	return errors.As(err, &t) && errors.Is(err, ErrFetchFailed)
}

// resultLabel maps a Fetch outcome to the low-cardinality "result" label of
// covers_ingest_fetches_total.
func resultLabel(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrInvalidURL):
		return "invalid_url"
	case errors.Is(err, ErrBlockedAddress):
		return "blocked"
	case errors.Is(err, ErrTooManyRedirects):
		return "too_many_redirects"
	case errors.Is(err, ErrTooLarge):
		return "too_large"
	case errors.Is(err, ErrSourceRejected):
		return "rejected"
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	default:
		return "failed"
	}
}

// fetchResults lists every value of the "result" label, so each counter
// exists (at zero) from the start.
var fetchResults = [...]string{
	"ok", "blocked", "invalid_url", "too_large", "rejected",
	"failed", "timeout", "too_many_redirects", "canceled",
}

// isPermanentTransportError reports connection-level failures that another
// attempt will not fix: certificate problems and names that do not exist.
func isPermanentTransportError(err error) bool {
	var (
		certErr     *tls.CertificateVerificationError
		unknownAuth x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidCert x509.CertificateInvalidError
		dnsErr      *net.DNSError
	)
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknownAuth),
		errors.As(err, &hostErr), errors.As(err, &invalidCert):
		return true
	case errors.As(err, &dnsErr):
		return dnsErr.IsNotFound
	}
	return false
}

// isNetTimeout reports a timeout signalled by the network stack or the
// transport (dial timeout, response header timeout).
func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// redactURL keeps scheme, host and path (cache.PublicSourceURL, the form
// that is published too): query strings and userinfo may carry tokens and
// never reach logs or error messages.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err != nil || u.Host == "" {
		return "<unparsable url>"
	}
	return cache.PublicSourceURL(raw)
}

// redactErr rewrites the URL inside any *url.Error in err's chain (net/http
// puts the full request URL, query included, into its errors).
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = redactURL(ue.URL)
	}
	return err
}

// checkStatus maps the upstream status: 2xx ok, 4xx rejected (final), 5xx
// failed (transient), anything else (3xx without Location, 1xx) failed.
func checkStatus(resp *http.Response) error {
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusNotFound || code == http.StatusGone:
		return fmt.Errorf("fetch: upstream status %d: %w: %w", code, ErrSourceRejected, ErrSourceGone)
	case code >= 400 && code < 500:
		return fmt.Errorf("fetch: upstream status %d: %w", code, ErrSourceRejected)
	case code >= 500 && code < 600:
		return transient(fmt.Errorf("fetch: upstream status %d: %w", code, ErrFetchFailed))
	default:
		return fmt.Errorf("fetch: unexpected upstream status %d: %w", code, ErrFetchFailed)
	}
}

// classify turns a transport error into the package's errors, with the URL
// inside it redacted.
func (f *Fetcher) classify(ctx, budget, actx context.Context, op string, err error) error {
	err = redactErr(err)
	switch {
	case errors.Is(err, ErrBlockedAddress), errors.Is(err, ErrInvalidURL), errors.Is(err, ErrTooManyRedirects):
		return fmt.Errorf("fetch: %s: %w", op, err)
	case ctx.Err() != nil, budget.Err() != nil:
		return f.budgetErr(ctx, err)
	case actx.Err() != nil || isNetTimeout(err):
		return fmt.Errorf("fetch: %s: attempt timed out after %s (%v): %w", op, f.cfg.AttemptTimeout, err, ErrTimeout)
	case isPermanentTransportError(err):
		return fmt.Errorf("fetch: %s: %w: %w", op, ErrFetchFailed, err)
	default:
		return transient(fmt.Errorf("fetch: %s: %w: %w", op, ErrFetchFailed, err))
	}
}

// budgetErr reports why the fetch stopped early: the caller went away
// (context.Canceled, not retryable), the caller's deadline passed, or the
// fetch budget ran out (both ErrTimeout).
func (f *Fetcher) budgetErr(ctx context.Context, last error) error {
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("fetch: caller canceled: %w", context.Canceled)
	case ctx.Err() != nil:
		return fmt.Errorf("fetch: caller deadline passed (%v): %w", last, ErrTimeout)
	}
	return fmt.Errorf("fetch: budget of %s exhausted (%v): %w", f.cfg.Timeout, last, ErrTimeout)
}
