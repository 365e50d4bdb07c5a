package transform

import "github.com/bookcovers/image-worker/internal/env"

// ConfigFromEnv reads the render settings over DefaultConfig: WEBP_QUALITY,
// AVIF_QUALITY, AVIF_EFFORT, JPEG_QUALITY, MAX_CONCURRENT_TRANSFORMS,
// TRANSFORM_QUEUE_SIZE, VIPS_CONCURRENCY and MAX_IMAGE_PIXELS (README,
// Configuration). WorkerCommand, how a render worker is started, is cmd's
// to set. Nothing here calls os.Getenv: cmd passes the Reader.
func ConfigFromEnv(e *env.Reader) Config {
	c := DefaultConfig()
	c.WebPQuality = e.Int("WEBP_QUALITY", c.WebPQuality)
	c.AVIFQuality = e.Int("AVIF_QUALITY", c.AVIFQuality)
	c.AVIFEffort = e.Int("AVIF_EFFORT", c.AVIFEffort)
	c.JPEGQuality = e.Int("JPEG_QUALITY", c.JPEGQuality)
	c.MaxConcurrent = e.Int("MAX_CONCURRENT_TRANSFORMS", c.MaxConcurrent)
	c.QueueSize = e.Int("TRANSFORM_QUEUE_SIZE", c.QueueSize)
	c.VipsConcurrency = e.Int("VIPS_CONCURRENCY", c.VipsConcurrency)
	c.MaxPixels = int64(e.Int("MAX_IMAGE_PIXELS", int(c.MaxPixels)))
	return c
}
