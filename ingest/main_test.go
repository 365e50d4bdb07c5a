package ingest

import (
	"log/slog"
	"os"
	"testing"

	"github.com/bookcovers/image-worker/transform"
)

// testWorkerEnv marks this test binary started as a render worker by the
// Renderer of the hostile-original tests.
const testWorkerEnv = "INGEST_TEST_RENDER_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(testWorkerEnv) == "1" {
		if err := transform.ServeWorker(os.Stdin, os.Stdout, slog.New(slog.NewJSONHandler(os.Stderr, nil))); err != nil {
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
