package transform

import (
	"log/slog"
	"os"
	"strconv"
	"testing"
)

// TestMain starts libvips once for the package. TRANSFORM_VIPS_CONCURRENCY
// (tests only) lets the benchmarks compare libvips thread counts.
func TestMain(m *testing.M) {
	cfg := DefaultConfig()
	if v, err := strconv.Atoi(os.Getenv("TRANSFORM_VIPS_CONCURRENCY")); err == nil && v > 0 {
		cfg.VipsConcurrency = v
	}
	Startup(cfg, slog.New(slog.DiscardHandler))
	code := m.Run()
	Shutdown()
	os.Exit(code)
}
