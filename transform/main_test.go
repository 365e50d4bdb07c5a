package transform

import (
	"log/slog"
	"os"
	"strconv"
	"testing"
)

// testWorkerEnv marks a test binary started as a render worker.
const testWorkerEnv = "TRANSFORM_TEST_WORKER"

// TestMain starts libvips once for the package. TRANSFORM_VIPS_CONCURRENCY
// (tests only) lets the benchmarks compare libvips thread counts.
func TestMain(m *testing.M) {
	if os.Getenv(testWorkerEnv) == "1" {
		// This test binary was started as a render worker by a Renderer
		// of the tests (newTestRenderer).
		if err := ServeWorker(os.Stdin, os.Stdout, slog.New(slog.NewJSONHandler(os.Stderr, nil))); err != nil {
			os.Exit(3)
		}
		os.Exit(0)
	}
	cfg := DefaultConfig()
	if v, err := strconv.Atoi(os.Getenv("TRANSFORM_VIPS_CONCURRENCY")); err == nil && v > 0 {
		cfg.VipsConcurrency = v
	}
	Startup(cfg, slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}
