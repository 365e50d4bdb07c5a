package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// FetchConfig configures the original fetcher.
type FetchConfig struct {
	Timeout        time.Duration // whole fetch incl. retries (PROCESS_TIMEOUT_SEC)
	MaxBytes       int64         // largest accepted body (MAX_IMAGE_SIZE_MB * 1 MiB)
	MaxRedirects   int           // redirects followed; one more fails
	MaxURLLength   int           // bytes, source and redirect URLs
	AllowPrivate   []string      // exact "host:port" reachable although private (SOURCE_ALLOW_PRIVATE_HOSTS); its port is allowed too
	AllowedPorts   []int         // destination ports a URL or redirect may name (SOURCE_ALLOWED_PORTS)
	DenyCIDRs      []string      // operator ranges refused like private ones (SOURCE_DENY_CIDRS)
	MaxAttempts    int           // attempts within the budget
	RetryBase      time.Duration // first backoff ceiling; doubles per retry (full jitter)
	RetryMax       time.Duration // backoff ceiling cap
	AttemptTimeout time.Duration // one attempt, bounded by what is left of Timeout
	UserAgent      string
	Resolver       Resolver // nil -> net.DefaultResolver
}

// DefaultFetchConfig returns the production defaults.
func DefaultFetchConfig() FetchConfig {
	return FetchConfig{
		Timeout:        20 * time.Second,
		MaxBytes:       5 << 20,
		MaxRedirects:   3,
		MaxURLLength:   DefaultMaxURLLength,
		AllowedPorts:   defaultAllowedPorts(),
		MaxAttempts:    3,
		RetryBase:      200 * time.Millisecond,
		RetryMax:       2 * time.Second,
		AttemptTimeout: 10 * time.Second,
		UserAgent:      "image-worker/1 (+cover origin)",
	}
}

// Validate reports every problem of c, joined.
func (c FetchConfig) Validate() error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("fetch config: "+format, args...))
	}
	if c.Timeout <= 0 {
		add("PROCESS_TIMEOUT_SEC (Timeout) must be positive, got %s", c.Timeout)
	}
	if c.MaxBytes <= 0 {
		add("MAX_IMAGE_SIZE_MB (MaxBytes) must be positive, got %d", c.MaxBytes)
	}
	if c.MaxRedirects < 0 {
		add("MaxRedirects must not be negative, got %d", c.MaxRedirects)
	}
	if c.MaxURLLength <= 0 {
		add("MaxURLLength must be positive, got %d", c.MaxURLLength)
	}
	if c.MaxAttempts < 1 {
		add("MaxAttempts must be at least 1, got %d", c.MaxAttempts)
	}
	if c.RetryBase < 0 {
		add("RetryBase must not be negative, got %s", c.RetryBase)
	}
	if c.RetryMax < c.RetryBase {
		add("RetryMax (%s) must not be below RetryBase (%s)", c.RetryMax, c.RetryBase)
	}
	if c.AttemptTimeout <= 0 {
		add("AttemptTimeout must be positive, got %s", c.AttemptTimeout)
	}
	if c.UserAgent == "" || strings.ContainsAny(c.UserAgent, "\r\n") {
		add("UserAgent must be a non-empty single line")
	}
	if _, err := newPolicy(c.AllowPrivate, c.AllowedPorts, c.DenyCIDRs); err != nil {
		add("%w", err)
	}
	return errors.Join(errs...)
}

// Fetched is a downloaded original. FinalURL is the URL after redirects, query
// included: it may carry tokens, so log it only through a redacting helper.
type Fetched struct {
	Body        []byte
	ContentType string
	FinalURL    string
	Attempts    int
}

// Fetcher downloads originals under the SSRF policy, size limit, redirect
// limit, retry policy and time budget of its FetchConfig. Safe for
// concurrent use.
type Fetcher struct {
	cfg       FetchConfig
	policy    policy
	logger    *slog.Logger
	dialer    *safeDialer
	transport *http.Transport
	client    *http.Client
	rnd       func(int64) int64 // nil -> math/rand/v2

	set      *metrics.Set
	results  map[string]*metrics.Counter
	duration *metrics.PrometheusHistogram
	bytes    *metrics.Counter
	retries  *metrics.Counter
}

// NewFetcher validates cfg and builds a fetcher with its own transport and
// metrics. A nil logger discards.
func NewFetcher(cfg FetchConfig, logger *slog.Logger) (*Fetcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new fetcher: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p, _ := newPolicy(cfg.AllowPrivate, cfg.AllowedPorts, cfg.DenyCIDRs) // validated above
	f := &Fetcher{
		cfg:     cfg,
		policy:  p,
		logger:  logger,
		dialer:  newSafeDialer(cfg.Resolver, p),
		set:     metrics.NewSet(),
		results: make(map[string]*metrics.Counter, len(fetchResults)),
	}
	f.transport = &http.Transport{
		Proxy:                  nil, // never from the environment
		DialContext:            f.dialer.DialContext,
		TLSHandshakeTimeout:    min(10*time.Second, cfg.AttemptTimeout),
		ResponseHeaderTimeout:  cfg.AttemptTimeout,
		ExpectContinueTimeout:  time.Second,
		IdleConnTimeout:        30 * time.Second,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    4,
		MaxResponseHeaderBytes: 64 << 10,
		DisableCompression:     true, // bytes on the wire are the bytes counted
	}
	f.client = &http.Client{Transport: f.transport, CheckRedirect: f.checkRedirect}
	for _, r := range fetchResults {
		f.results[r] = f.set.NewCounter(`covers_ingest_fetches_total{result="` + r + `"}`)
	}
	f.duration = f.set.NewPrometheusHistogramExt("covers_ingest_fetch_duration_seconds", fetchBuckets)
	f.bytes = f.set.NewCounter("covers_ingest_original_bytes_total")
	f.retries = f.set.NewCounter("covers_ingest_fetch_retries_total")
	return f, nil
}

// Metrics returns the fetcher's metric set.
func (f *Fetcher) Metrics() *metrics.Set { return f.set }

// Close drops idle upstream connections.
func (f *Fetcher) Close() { f.transport.CloseIdleConnections() }

// ValidateURL is the package ValidateURL with this fetcher's length limit
// and policy (allowed ports, deny ranges, allow list): the check Fetch makes
// before any I/O.
func (f *Fetcher) ValidateURL(raw string) (*url.URL, error) {
	u, _, err := validateURL(raw, f.cfg.MaxURLLength, f.policy)
	return u, err
}

// Fetch downloads rawURL within cfg.Timeout. Transient failures (connection
// errors, 5xx, an attempt timing out) are retried with full-jitter backoff
// while attempts and budget remain; when the next backoff would not fit in
// the budget, the last attempt's error is returned as is (ErrFetchFailed for
// a 5xx). Only when the budget itself runs out during an attempt or a wait
// is the error ErrTimeout. Policy errors, 4xx and oversized bodies never retry.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) (Fetched, error) {
	start := time.Now()
	res, err := f.fetch(ctx, rawURL)
	f.results[resultLabel(err)].Inc()
	f.duration.UpdateDuration(start)
	if err == nil {
		f.bytes.Add(len(res.Body))
	}
	return res, err
}

func (f *Fetcher) fetch(ctx context.Context, rawURL string) (Fetched, error) {
	u, err := f.ValidateURL(rawURL)
	if err != nil {
		f.logBlocked(ctx, rawURL, err)
		return Fetched{}, fmt.Errorf("fetch: %w", err)
	}
	safe := redactURL(u.String())
	budget, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		res, err := f.attempt(ctx, budget, u.String())
		res.Attempts = attempt
		if err == nil {
			f.logger.LogAttrs(ctx, slog.LevelDebug, "fetched original",
				slog.String("url", safe), slog.Int("attempt", attempt), slog.Int("bytes", len(res.Body)))
			return res, nil
		}
		if !IsRetryable(err) || attempt >= f.cfg.MaxAttempts || budget.Err() != nil {
			f.logBlocked(ctx, safe, err)
			return Fetched{Attempts: attempt}, err
		}
		delay := Backoff(attempt-1, f.cfg.RetryBase, f.cfg.RetryMax, f.rnd)
		if dl, ok := budget.Deadline(); ok && time.Until(dl) <= delay {
			return Fetched{Attempts: attempt}, err
		}
		f.retries.Inc()
		f.logger.LogAttrs(ctx, slog.LevelInfo, "fetch retry",
			slog.String("url", safe), slog.Int("attempt", attempt),
			slog.Int64("delay_ms", delay.Milliseconds()), slog.String("error", err.Error()))
		timer := time.NewTimer(delay)
		select {
		case <-budget.Done():
			timer.Stop()
			return Fetched{Attempts: attempt}, f.budgetErr(ctx, err)
		case <-timer.C:
		}
	}
}

// attempt makes one request under its own timeout (a child of the budget).
func (f *Fetcher) attempt(ctx, budget context.Context, rawURL string) (Fetched, error) {
	actx, cancel := context.WithTimeout(budget, f.cfg.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, rawURL, nil)
	if err != nil {
		return Fetched{}, fmt.Errorf("fetch: new request: %w", ErrInvalidURL)
	}
	req.Header.Set("User-Agent", f.cfg.UserAgent)
	req.Header.Set("Accept", "image/*")
	resp, err := f.client.Do(req)
	if err != nil {
		return Fetched{}, f.classify(ctx, budget, actx, "request", err)
	}
	defer resp.Body.Close()
	if err := checkStatus(resp); err != nil {
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10) // small drain keeps the connection reusable
		return Fetched{}, err
	}
	if resp.ContentLength > f.cfg.MaxBytes {
		return Fetched{}, fmt.Errorf("fetch: content-length %d over %d bytes: %w",
			resp.ContentLength, f.cfg.MaxBytes, ErrTooLarge)
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength) + 1)
	}
	// MaxBytes+1 is the most ever read, whatever the headers claim.
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, f.cfg.MaxBytes+1)); err != nil {
		return Fetched{}, f.classify(ctx, budget, actx, "read body", err)
	}
	if int64(buf.Len()) > f.cfg.MaxBytes {
		return Fetched{}, fmt.Errorf("fetch: body over %d bytes: %w", f.cfg.MaxBytes, ErrTooLarge)
	}
	return Fetched{
		Body:        buf.Bytes(),
		ContentType: resp.Header.Get("Content-Type"),
		FinalURL:    resp.Request.URL.String(),
	}, nil
}

// logBlocked records policy refusals, a security signal, at warn. The URL is
// always redacted (scheme, host, path).
func (f *Fetcher) logBlocked(ctx context.Context, rawURL string, err error) {
	if errors.Is(err, ErrBlockedAddress) {
		f.logger.LogAttrs(ctx, slog.LevelWarn, "fetch blocked by address policy",
			slog.String("url", redactURL(rawURL)), slog.String("error", err.Error()))
	}
}

// checkRedirect re-validates every redirect target (scheme, userinfo, port,
// literal IP policy; the dialer checks names), refuses a redirect into an
// allow-listed host:port from any other host:port (policy.checkRedirectHop:
// the redirecting URL is the last of via), refuses loops and more than
// MaxRedirects redirects, and drops the Referer so a query token of one
// host never travels to the next.
func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > f.cfg.MaxRedirects {
		return fmt.Errorf("redirect: more than %d: %w", f.cfg.MaxRedirects, ErrTooManyRedirects)
	}
	u, to, err := validateURL(req.URL.String(), f.cfg.MaxURLLength, f.policy)
	if err != nil {
		return fmt.Errorf("redirect: %w", err)
	}
	// The redirecting URL passed validateURL itself (as the source or as an
	// earlier hop), so its key is well-formed; if not, it matches nothing.
	_, from, _ := validateURL(via[len(via)-1].URL.String(), f.cfg.MaxURLLength, f.policy)
	if err := f.policy.checkRedirectHop(from, to); err != nil {
		return fmt.Errorf("redirect: %w", err)
	}
	target := u.String()
	for _, prev := range via {
		if prev.URL.String() == target {
			return fmt.Errorf("redirect: loop back to %s: %w", redactURL(target), ErrTooManyRedirects)
		}
	}
	req.URL = u
	req.Header.Del("Referer")
	return nil
}

// fetchBuckets are the upper bounds, in seconds, of the fetch histogram:
// from a few ms (a nearby origin) to FETCH_TIMEOUT and retries.
var fetchBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
