package transform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/davidbyttow/govips/v2/vips"
)

// vipsMaxCoord is libvips' VIPS_MAX_COORD: a width-only thumbnail gets it
// as its height so that only the width constrains the scale.
const vipsMaxCoord = 10_000_000

// Result is an encoded output image.
type Result struct {
	Bytes         []byte
	Width, Height int
	Format        Format
	ContentType   string
}

// Renderer turns originals into WebP/AVIF variants under the render gate.
// It is safe for concurrent use.
type Renderer struct {
	cfg    Config
	logger *slog.Logger
	gate   *gate
	set    *metrics.Set

	renders      atomic.Uint64
	outcomes     map[Format][2]*metrics.Counter // [ok, error]
	durations    map[Format]*metrics.Histogram
	placeholders *metrics.Counter

	// beforeWork, when set (tests only), runs while holding a render slot,
	// before libvips is called.
	beforeWork func()
}

// NewRenderer validates cfg, starts libvips (once per process) and builds a
// Renderer with its own metrics set.
func NewRenderer(cfg Config, logger *slog.Logger) (*Renderer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("transform new renderer: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	Startup(cfg, logger)
	r := &Renderer{
		cfg:       cfg,
		logger:    logger,
		gate:      newGate(cfg.MaxConcurrent, cfg.QueueSize),
		set:       metrics.NewSet(),
		outcomes:  map[Format][2]*metrics.Counter{},
		durations: map[Format]*metrics.Histogram{},
	}
	for _, f := range []Format{WebP, AVIF} {
		r.outcomes[f] = [2]*metrics.Counter{
			r.set.NewCounter(fmt.Sprintf(`covers_transform_renders_total{format=%q,result="ok"}`, f)),
			r.set.NewCounter(fmt.Sprintf(`covers_transform_renders_total{format=%q,result="error"}`, f)),
		}
		r.durations[f] = r.set.NewHistogram(fmt.Sprintf(`covers_transform_render_duration_seconds{format=%q}`, f))
	}
	r.placeholders = r.set.NewCounter("covers_transform_placeholders_total")
	r.set.NewGauge("covers_transform_queue_depth", func() float64 { return float64(r.gate.queueDepth()) })
	r.set.NewGauge("covers_transform_in_flight", func() float64 { return float64(r.gate.inFlight()) })
	r.set.NewGauge("covers_transform_vips_memory_bytes", func() float64 {
		var ms vips.MemoryStats
		vips.ReadVipsMemStats(&ms)
		return float64(ms.Mem)
	})
	r.set.NewGauge("covers_transform_vips_allocations", func() float64 {
		var ms vips.MemoryStats
		vips.ReadVipsMemStats(&ms)
		return float64(ms.Allocs)
	})
	return r, nil
}

// Metrics returns the renderer's metrics set, for cmd to register.
func (r *Renderer) Metrics() *metrics.Set { return r.set }

// Renders is the number of renders that reached libvips, successful or not.
// Originals refused by Probe, requests refused by the gate and placeholders
// are not counted.
func (r *Renderer) Renders() uint64 { return r.renders.Load() }

// Render makes one variant of src. The original is probed first (pure Go,
// no decoding), so bombs and non-images are refused before they queue; then
// the render waits for a slot in the gate (ErrOverloaded when the queue is
// full, the context's error when ctx ends first) and runs libvips.
//
// The output is upright (EXIF orientation applied), sRGB (or grey), 8-bit,
// with alpha kept and every metadata block stripped; only the first frame
// of an animation is used. See Request for the sizing rules.
func (r *Renderer) Render(ctx context.Context, src []byte, req Request) (Result, error) {
	if err := req.validate(); err != nil {
		return Result{}, fmt.Errorf("transform render: %w", err)
	}
	info, err := Probe(src, r.cfg.MaxPixels)
	if err != nil {
		return Result{}, fmt.Errorf("transform render: %w", err)
	}
	dispW, dispH := info.DisplaySize()
	g := plan(dispW, dispH, req)
	if int64(g.width)*int64(g.height) > r.cfg.MaxPixels {
		return Result{}, fmt.Errorf("transform render: output %dx%d over %d pixels: %w",
			g.width, g.height, r.cfg.MaxPixels, ErrTooManyPixels)
	}

	release, err := r.gate.acquire(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("transform render: %w", err)
	}
	defer release()
	if r.beforeWork != nil {
		r.beforeWork()
	}

	r.renders.Add(1)
	start := time.Now()
	res, err := r.render(decodable(info, src), g, req)
	r.durations[req.Format].UpdateDuration(start)
	if err != nil {
		r.outcomes[req.Format][1].Inc()
		return Result{}, fmt.Errorf("transform render %s %dx%d from %s %dx%d: %w",
			req.Format, req.Width, req.Height, info.Type, info.Width, info.Height, err)
	}
	r.outcomes[req.Format][0].Inc()
	return res, nil
}

// render runs libvips: thumbnail with shrink-on-load, colour normalisation,
// encoding. Every libvips failure is wrapped in ErrRenderFailed.
func (r *Renderer) render(src []byte, g geometry, req Request) (Result, error) {
	size := vips.SizeDown
	if req.Enlarge {
		size = vips.SizeBoth
	}
	// Width-only requests keep the aspect inside a box MaxOutputSide high, so
	// an extreme aspect (1x20000) still gives an image every encoder accepts.
	crop, height := vips.InterestingNone, MaxOutputSide
	if g.crop {
		crop, height = vips.InterestingAttention, g.height
	}
	// fail=TRUE makes loaders stop at the first warning (a truncated JPEG)
	// instead of returning grey-filled pixels.
	img, err := vips.LoadThumbnailFromBuffer(src, g.width, height, crop, size, vips.NewImportParams())
	if err != nil {
		return Result{}, vipsFailed("thumbnail", err)
	}
	defer img.Close()

	if g.crop && (img.Width() != g.width || img.Height() != g.height) {
		// The original was smaller than Probe's header suggested (an
		// orientation it could not see): crop to the requested aspect.
		w, h := fitAspect(g.width, g.height, img.Width(), img.Height())
		if err := img.SmartCrop(w, h, vips.InterestingAttention); err != nil {
			return Result{}, vipsFailed("crop", err)
		}
	}
	if err := normalise(img); err != nil {
		return Result{}, err
	}
	// Drop EXIF/XMP/IPTC fields before the saver sees them: libvips 8.14
	// webpsave ignores strip (libvips#3340).
	if err := img.RemoveMetadata(); err != nil {
		return Result{}, vipsFailed("remove metadata", err)
	}
	buf, err := r.encode(img, req.Format)
	if err != nil {
		return Result{}, err
	}
	return Result{Bytes: buf, Width: img.Width(), Height: img.Height(), Format: req.Format, ContentType: req.Format.ContentType()}, nil
}

// encode writes img as WebP or AVIF with every metadata block stripped.
func (r *Renderer) encode(img *vips.ImageRef, f Format) ([]byte, error) {
	var (
		buf []byte
		err error
	)
	switch f {
	case WebP:
		p := vips.NewWebpExportParams()
		p.Quality = r.cfg.WebPQuality
		p.StripMetadata = true
		buf, _, err = img.ExportWebp(p)
		if err == nil {
			// Even with no fields left, 8.14 webpsave writes a fresh
			// EXIF block (resolution, orientation 1): cut it out.
			buf, err = stripWebPMetadata(buf)
			if err != nil {
				return nil, fmt.Errorf("encode webp: %w: %w", ErrRenderFailed, err)
			}
		}
	case AVIF:
		p := vips.NewAvifExportParams()
		p.Quality = r.cfg.AVIFQuality
		p.Effort = r.cfg.AVIFEffort
		p.Bitdepth = 8
		p.StripMetadata = true
		buf, _, err = img.ExportAvif(p)
	default:
		return nil, fmt.Errorf("encode %q: %w", f, ErrUnsupportedFormat)
	}
	if err != nil {
		return nil, vipsFailed("encode "+string(f), err)
	}
	return buf, nil
}

// vipsFailed wraps a govips error in ErrRenderFailed, keeping libvips'
// message but not the Go stack trace govips appends to it.
func vipsFailed(op string, err error) error {
	msg, _, _ := strings.Cut(err.Error(), "\nStack:")
	return fmt.Errorf("%s: %w: %w", op, ErrRenderFailed, errors.New(strings.TrimSpace(msg)))
}
