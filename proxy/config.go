package proxy

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/bookcovers/image-worker/cover"
)

// Config configures the HTTP layer.
type Config struct {
	Sizes          map[string]cover.Size // COVER_SIZES: preset name -> size
	MaxDimension   int                   // MAX_COVER_DIMENSION
	MinDimension   int                   // smallest W or H accepted (16)
	MaxAge         time.Duration         // COVER_MAX_AGE for unversioned URLs
	StaleWhile     time.Duration         // stale-while-revalidate for unversioned URLs
	PlaceholderAge time.Duration         // max-age of placeholders
	Placeholders   bool                  // PLACEHOLDERS
	ProcessMaxBody int64                 // POST /process body limit
	RequestTimeout time.Duration         // deadline of one request's work
	StoreTimeout   time.Duration         // STORE_TIMEOUT: one budget for all the store calls of a cover or meta.json request
	ReadyTimeout   time.Duration         // budget of the readiness probe
	RetryAfter     time.Duration         // Retry-After on 503, 429 and 504 storage_timeout
	AdminToken     string                // ADMIN_TOKEN: bearer token for DELETE /covers/{id} on both listeners
	// ProcessTokens (PROCESS_TOKENS) are the bearer tokens accepted by POST
	// /process and /v2/process on both listeners; empty leaves them open.
	ProcessTokens []string
	// AccessLog (ACCESS_LOG) logs one line per request. When false, only
	// requests answered with a 4xx or 5xx are logged: a JSON line per
	// cache hit is a write(2) per request, a measurable share of a hit.
	AccessLog bool
	// AllowOrigins (ALLOW_ORIGINS) are the browser origins that may read
	// covers and meta.json cross-origin (cors.go): empty sends no CORS
	// header, ["*"] lets any origin read.
	AllowOrigins []string
	// Pprof (PPROF) serves net/http/pprof under /debug/pprof/ on the
	// internal listener only.
	Pprof bool
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Sizes:          map[string]cover.Size{"thumb": {Width: 96}, "small": {Width: 160}, "medium": {Width: 320}, "large": {Width: 640}, "xlarge": {Width: 1280}},
		MaxDimension:   2048,
		MinDimension:   16,
		MaxAge:         24 * time.Hour,
		StaleWhile:     time.Hour,
		PlaceholderAge: time.Minute,
		Placeholders:   true,
		ProcessMaxBody: 64 << 10,
		RequestTimeout: 30 * time.Second,
		StoreTimeout:   2 * time.Second,
		ReadyTimeout:   2 * time.Second,
		RetryAfter:     time.Second,
		AccessLog:      true,
	}
}

// Validate names every problem.
func (c Config) Validate() error {
	var errs []error
	if c.MaxDimension < c.MinDimension || c.MinDimension < 1 {
		errs = append(errs, fmt.Errorf("MAX_COVER_DIMENSION must be at least %d", c.MinDimension))
	}
	for name, sz := range c.Sizes {
		if !validPresetName(name) {
			errs = append(errs, fmt.Errorf("COVER_SIZES: preset name %q must be lowercase letters", name))
		}
		if !c.inRange(sz.Width) || sz.Height != 0 && !c.inRange(sz.Height) || sz.Fit && sz.Height == 0 {
			errs = append(errs, fmt.Errorf("COVER_SIZES: preset %q size %s not W, WxH or WxHf in %d..%d", name, sz, c.MinDimension, c.MaxDimension))
		}
	}
	if c.MaxAge <= 0 {
		errs = append(errs, errors.New("COVER_MAX_AGE must be positive"))
	}
	if c.ProcessMaxBody <= 0 || c.RequestTimeout <= 0 || c.StoreTimeout <= 0 || c.ReadyTimeout <= 0 || c.PlaceholderAge <= 0 {
		errs = append(errs, errors.New("proxy: body limit and timeouts must be positive"))
	}
	errs = append(errs, checkTokens(c.ProcessTokens)...)
	if err := checkOrigins(c.AllowOrigins); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// inRange reports whether n is a width or height a URL may ask for.
func (c Config) inRange(n int) bool { return n >= c.MinDimension && n <= c.MaxDimension }

// ParseSizes parses COVER_SIZES: name=SIZE items, SIZE a width, a box to
// fill or a box to fit ("thumb=96,small=160,square=200x200,card=600x315f").
func ParseSizes(s string) (map[string]cover.Size, error) {
	out := map[string]cover.Size{}
	var errs []error
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, size, ok := strings.Cut(item, "=")
		sz, err := cover.ParseSize(strings.TrimSpace(size))
		if !ok || err != nil {
			errs = append(errs, fmt.Errorf("COVER_SIZES: %q is not name=W, name=WxH or name=WxHf", item))
			continue
		}
		out[strings.TrimSpace(name)] = sz
	}
	if len(out) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("COVER_SIZES is empty"))
	}
	return out, errors.Join(errs...)
}

// FormatSizes is the inverse of ParseSizes, sorted by width, then name.
func FormatSizes(m map[string]cover.Size) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		return m[names[i]].Width < m[names[j]].Width || m[names[i]].Width == m[names[j]].Width && names[i] < names[j]
	})
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + m[n].String()
	}
	return strings.Join(parts, ",")
}

func validPresetName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}
