package backfill

import (
	"errors"
	"time"
)

// ErrSetting marks a wrong setting of a run: a Config value, the server
// URL, a failures file that is the input. Its message names the flag of
// `image-worker backfill` that sets it, so the command can show it as a
// usage error.
var ErrSetting = errors.New("backfill setting")

// ErrInterrupted reports a run whose context ended before the end of its
// input: the rows not started are left for the next run.
var ErrInterrupted = errors.New("interrupted")

// settingError is an ErrSetting whose text is its message alone.
type settingError string

func (e settingError) Error() string { return string(e) }
func (e settingError) Unwrap() error { return ErrSetting }

// maxConcurrency bounds Config.Concurrency.
const maxConcurrency = 1024

// Config is how a run goes.
type Config struct {
	// Concurrency is how many rows are warmed at once (1..1024).
	Concurrency int
	// ProgressEvery is the interval of the plain progress lines when the
	// progress output is not a terminal (a terminal's line is redrawn
	// four times a second).
	ProgressEvery time.Duration
	// Failures is the CSV file failed rows are written to; empty: next to
	// the input (catalog.csv -> catalog.failures.csv). Never the input.
	Failures string
}

// DefaultConfig returns 8 rows at once, a plain progress line every 5s
// and the failures next to the input.
func DefaultConfig() Config {
	return Config{Concurrency: 8, ProgressEvery: 5 * time.Second}
}

// Validate names every problem of c; each wraps ErrSetting.
func (c Config) Validate() error {
	var errs []error
	if c.Concurrency < 1 || c.Concurrency > maxConcurrency {
		errs = append(errs, settingError("--concurrency must be 1..1024"))
	}
	if c.ProgressEvery <= 0 {
		errs = append(errs, settingError("--progress-every must be positive"))
	}
	return errors.Join(errs...)
}
