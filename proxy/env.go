package proxy

import "github.com/bookcovers/image-worker/internal/env"

// The environment variables of the HTTP layer (README, Configuration).
// cmd passes the Reader and sets the store budget (STORE_TIMEOUT); nothing
// here calls os.Getenv.

// ConfigFromEnv reads COVER_SIZES, MAX_COVER_DIMENSION, COVER_MAX_AGE,
// PLACEHOLDERS, ADMIN_TOKEN, PROCESS_TOKENS (both also as _FILE),
// ACCESS_LOG, PPROF and ALLOW_ORIGINS over DefaultConfig.
func ConfigFromEnv(e *env.Reader) Config {
	c := DefaultConfig()
	if s := e.Str("COVER_SIZES", ""); s != "" {
		sizes, err := ParseSizes(s)
		e.Fail(err)
		c.Sizes = sizes
	}
	c.MaxDimension = e.Int("MAX_COVER_DIMENSION", c.MaxDimension)
	c.MaxAge = e.Duration("COVER_MAX_AGE", c.MaxAge)
	c.Placeholders = e.Bool("PLACEHOLDERS", true)
	c.AdminToken = e.Secret("ADMIN_TOKEN")
	c.ProcessTokens = ParseTokens(e.Secret("PROCESS_TOKENS"))
	c.AccessLog = e.Bool("ACCESS_LOG", c.AccessLog)
	c.Pprof = e.Bool("PPROF", false)
	origins, err := ParseOrigins(e.Str("ALLOW_ORIGINS", ""))
	e.Fail(err)
	c.AllowOrigins = origins
	return c
}

// ServerTimeoutsFromEnv reads HTTP_READ_HEADER_TIMEOUT, HTTP_READ_TIMEOUT,
// HTTP_WRITE_TIMEOUT, HTTP_IDLE_TIMEOUT and HTTP_MAX_HEADER_BYTES over
// DefaultServerTimeouts.
func ServerTimeoutsFromEnv(e *env.Reader) ServerTimeouts {
	t := DefaultServerTimeouts()
	t.ReadHeader = e.Duration("HTTP_READ_HEADER_TIMEOUT", t.ReadHeader)
	t.Read = e.Duration("HTTP_READ_TIMEOUT", t.Read)
	t.Write = e.Duration("HTTP_WRITE_TIMEOUT", t.Write)
	t.Idle = e.Duration("HTTP_IDLE_TIMEOUT", t.Idle)
	t.MaxHeader = e.Int("HTTP_MAX_HEADER_BYTES", t.MaxHeader)
	return t
}
