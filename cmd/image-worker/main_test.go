package main

import (
	"context"
	"log/slog"
	"os"
	"testing"

	"github.com/bookcovers/image-worker/transform"
)

// TestMain lets this test binary serve as a render worker: the service
// under test (newApp) starts workers as its own executable with the
// render-worker subcommand (workerCommand), which here is the test binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == renderWorkerCmd {
		os.Exit(run(context.Background(), os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
	}
	// Tests decode the service's outputs with libvips in this process:
	// start it quietly (govips logs every load at info otherwise).
	transform.Startup(transform.DefaultConfig(), slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}
