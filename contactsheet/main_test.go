package contactsheet

import (
	"log/slog"
	"os"
	"testing"

	"github.com/bookcovers/image-worker/transform"
)

// TestMain starts libvips once: Make composes the sheet in this process.
func TestMain(m *testing.M) {
	transform.Startup(transform.DefaultConfig(), slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}
