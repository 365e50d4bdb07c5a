package transform

import (
	"context"
	"log/slog"
	"sync"

	"github.com/davidbyttow/govips/v2/vips"
)

var startOnce sync.Once

// Startup starts libvips once per process; later calls do nothing. Render
// workers call it (ServeWorker), as do commands that compose images of
// their own (contact-sheet); a serving process never needs it. Untrusted
// operations (ImageMagick, poppler, librsvg, OpenSlide, matio, cfitsio...)
// are blocked in every process. The first call decides the settings:
// libvips' operation cache is off (renders never repeat an operation on the
// same input, and the cache would only hold memory), its thread pool per
// operation is cfg.VipsConcurrency, and libvips/govips log lines at warning
// level and above go to logger (govips logs every load at info).
func Startup(cfg Config, logger *slog.Logger) {
	startOnce.Do(func() {
		if logger == nil {
			logger = slog.New(slog.DiscardHandler)
		}
		vips.LoggingSettings(vipsLogHandler(logger), vips.LogLevelWarning)
		conc := cfg.VipsConcurrency
		if conc < 1 {
			conc = 1
		}
		vips.Startup(&vips.Config{
			ConcurrencyLevel: conc,
			MaxCacheFiles:    0,
			MaxCacheMem:      0,
			MaxCacheSize:     0,
		})
		blockUntrusted()
	})
}

// vipsLogHandler maps glib/libvips log levels onto slog levels.
func vipsLogHandler(logger *slog.Logger) vips.LoggingHandlerFunction {
	return func(domain string, level vips.LogLevel, msg string) {
		l := slog.LevelWarn
		if level == vips.LogLevelError || level == vips.LogLevelCritical {
			l = slog.LevelError
		}
		logger.Log(context.Background(), l, "libvips", "domain", domain, "message", msg)
	}
}

// LibvipsVersion is the version of the libvips library this process has
// loaded ("8.14.1"), read without starting libvips.
func LibvipsVersion() string { return vips.Version }
