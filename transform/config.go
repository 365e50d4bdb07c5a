package transform

import (
	"errors"
	"fmt"
	"runtime"
)

// MaxSide is the longest side, in pixels, that Probe accepts whatever the
// pixel budget. Longer sides are refused with ErrTooManyPixels: JPEG cannot
// exceed it and no book cover needs more.
const MaxSide = 65535

// Config tunes the renderer. Build it with DefaultConfig and override fields;
// cmd fills it from the environment (WEBP_QUALITY, MAX_CONCURRENT_TRANSFORMS...).
type Config struct {
	// WebPQuality is libwebp's lossy quality, 1..100.
	WebPQuality int
	// AVIFQuality is libheif/aom's quality, 1..100 (see doc.go for the choice).
	AVIFQuality int
	// JPEGQuality is libjpeg's quality, 1..100 (JPEG_QUALITY; see doc.go
	// for the choice and the bytes against WebP at equal SSIM).
	JPEGQuality int
	// AVIFEffort is libvips' AVIF "effort", 1 (fastest) .. 9 (slowest).
	// 0 is refused: govips only passes a non-zero effort, so 0 would
	// silently become libvips' default of 4.
	AVIFEffort int
	// MaxConcurrent is how many renders run at once.
	MaxConcurrent int
	// QueueSize is how many renders may wait for a slot; one more gets
	// ErrOverloaded at once. Zero means no waiting at all.
	QueueSize int
	// MaxBatch is the most renders of one original, waiting for a slot at
	// the same time, that one ladder operation takes (Request.Source): each
	// of them waits for the whole ladder, so this bounds what combining adds
	// to a waiter's latency (and a worker's memory). 1 never combines.
	MaxBatch int
	// MaxPixels is the largest width*height an original may declare.
	MaxPixels int64
	// VipsConcurrency is libvips' worker threads per operation. It is a
	// process-wide setting applied by the first Startup call.
	VipsConcurrency int
	// WorkerCommand starts one render worker process: a program and its
	// arguments that run ServeWorker on stdin/stdout (cmd passes its own
	// executable and the hidden "render-worker" subcommand). Required by
	// NewRenderer; there is no in-process rendering.
	WorkerCommand []string `json:"-"`
	// WorkerEnv is added to the environment a worker inherits.
	WorkerEnv []string `json:"-"`
}

// DefaultConfig returns the measured defaults documented in doc.go.
func DefaultConfig() Config {
	n := runtime.GOMAXPROCS(0) // cgroup-aware since Go 1.25: a pod's CPU limit, not the node's cores
	return Config{
		WebPQuality:     80,
		AVIFQuality:     60,
		JPEGQuality:     80,
		AVIFEffort:      1,
		MaxConcurrent:   n,
		QueueSize:       4 * n,
		MaxBatch:        4,
		MaxPixels:       50_000_000,
		VipsConcurrency: 1,
	}
}

// Validate reports every problem in c, joined with errors.Join.
func (c Config) Validate() error {
	err := c.validateEngine()
	if len(c.WorkerCommand) == 0 || c.WorkerCommand[0] == "" {
		err = errors.Join(err, errors.New("WorkerCommand is empty: renders run only in worker processes"))
	}
	return err
}

// validateEngine checks what a render worker uses (everything but how to
// start one).
func (c Config) validateEngine() error {
	var errs []error
	if c.WebPQuality < 1 || c.WebPQuality > 100 {
		errs = append(errs, fmt.Errorf("WEBP_QUALITY (WebPQuality) %d not in 1..100", c.WebPQuality))
	}
	if c.AVIFQuality < 1 || c.AVIFQuality > 100 {
		errs = append(errs, fmt.Errorf("AVIF_QUALITY (AVIFQuality) %d not in 1..100", c.AVIFQuality))
	}
	if c.JPEGQuality < 1 || c.JPEGQuality > 100 {
		errs = append(errs, fmt.Errorf("JPEG_QUALITY (JPEGQuality) %d not in 1..100", c.JPEGQuality))
	}
	if c.AVIFEffort < 1 || c.AVIFEffort > 9 {
		errs = append(errs, fmt.Errorf("AVIF_EFFORT (AVIFEffort) %d not in 1..9", c.AVIFEffort))
	}
	if c.MaxConcurrent < 1 {
		errs = append(errs, fmt.Errorf("MAX_CONCURRENT_TRANSFORMS (MaxConcurrent) %d must be at least 1", c.MaxConcurrent))
	}
	if c.MaxBatch < 1 || c.MaxBatch > MaxLadder {
		errs = append(errs, fmt.Errorf("MaxBatch %d must be in 1..%d", c.MaxBatch, MaxLadder))
	}
	if c.QueueSize < 0 {
		errs = append(errs, fmt.Errorf("TRANSFORM_QUEUE_SIZE (QueueSize) %d must not be negative", c.QueueSize))
	}
	if c.MaxPixels < 1 {
		errs = append(errs, fmt.Errorf("MAX_IMAGE_PIXELS (MaxPixels) %d must be positive", c.MaxPixels))
	}
	if c.VipsConcurrency < 1 || c.VipsConcurrency > 1024 {
		errs = append(errs, fmt.Errorf("VIPS_CONCURRENCY (VipsConcurrency) %d not in 1..1024", c.VipsConcurrency))
	}
	return errors.Join(errs...)
}
