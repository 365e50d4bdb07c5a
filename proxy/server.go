package proxy

import (
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// ServerTimeouts bound every connection so slow clients cannot hold the server.
type ServerTimeouts struct {
	ReadHeader time.Duration
	Read       time.Duration
	Write      time.Duration
	Idle       time.Duration
	MaxHeader  int
}

// DefaultServerTimeouts returns timeouts suited to an origin behind a CDN.
func DefaultServerTimeouts() ServerTimeouts {
	return ServerTimeouts{ReadHeader: 5 * time.Second, Read: 15 * time.Second, Write: 45 * time.Second, Idle: 120 * time.Second, MaxHeader: 16 << 10}
}

// Validate names every problem.
func (t ServerTimeouts) Validate() error {
	if t.ReadHeader <= 0 || t.Read <= 0 || t.Write <= 0 || t.Idle <= 0 {
		return errors.New("HTTP_READ_HEADER_TIMEOUT, HTTP_READ_TIMEOUT, HTTP_WRITE_TIMEOUT and HTTP_IDLE_TIMEOUT must be positive")
	}
	if t.MaxHeader < 1024 {
		return errors.New("HTTP_MAX_HEADER_BYTES must be at least 1024")
	}
	return nil
}

// NewHTTPServer wraps a handler in an http.Server with every timeout set.
func NewHTTPServer(addr string, h http.Handler, t ServerTimeouts, logger *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    t.MaxHeader,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}
