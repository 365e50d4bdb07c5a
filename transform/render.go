package transform

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/bookcovers/image-worker/cover"
)

// vipsMaxCoord is libvips' VIPS_MAX_COORD: a width-only thumbnail gets it
// as its height so that only the width constrains the scale.
const vipsMaxCoord = 10_000_000

// Result is an encoded output image.
type Result struct {
	Bytes         []byte
	Width, Height int
	Format        cover.Format
	ContentType   string
}

// Renderer turns originals into WebP/AVIF variants under the render gate.
// Every libvips call runs in a render worker process (ServeWorker), so a
// codec that crashes costs one render, never this process. It is safe for
// concurrent use; Close stops the workers.
type Renderer struct {
	cfg    Config
	logger *slog.Logger
	gate   *gate
	pool   *pool
	set    *metrics.Set

	renders      atomic.Uint64
	outcomes     map[cover.Format][2]*metrics.Counter // [ok, error]
	durations    map[cover.Format]*metrics.PrometheusHistogram
	placeholders *metrics.Counter
	checks       [2]*metrics.Counter // [ok, error]
	metaOutcomes [2]*metrics.Counter // [ok, error]
	metaDuration *metrics.PrometheusHistogram
	trimDuration *metrics.PrometheusHistogram // TrimBox, at ingest with TRIM_BORDERS
	phases       phases                       // the time split of renders

	ladders        [2]*metrics.Counter // [ok, error]: ladder operations
	ladderOutputs  *metrics.Counter    // variants made by ladders
	ladderDuration *metrics.PrometheusHistogram
	batched        *metrics.Counter // renders taken into another's operation
	batch          batcher

	// beforeWork, when set (tests only), runs while holding a render slot,
	// before the worker is called.
	beforeWork func()
}

// NewRenderer validates cfg and builds a Renderer with its own metrics set.
// Worker processes start on first use, at most cfg.MaxConcurrent of them.
func NewRenderer(cfg Config, logger *slog.Logger) (*Renderer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("transform new renderer: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Renderer{
		cfg:       cfg,
		logger:    logger,
		gate:      newGate(cfg.MaxConcurrent, cfg.QueueSize),
		set:       metrics.NewSet(),
		outcomes:  map[cover.Format][2]*metrics.Counter{},
		durations: map[cover.Format]*metrics.PrometheusHistogram{},
	}
	r.pool = newPool(cfg, cfg.MaxConcurrent, logger, r.set)
	for _, f := range cover.Formats() {
		r.outcomes[f] = [2]*metrics.Counter{
			r.set.NewCounter(fmt.Sprintf(`covers_transform_renders_total{format=%q,result="ok"}`, f)),
			r.set.NewCounter(fmt.Sprintf(`covers_transform_renders_total{format=%q,result="error"}`, f)),
		}
		r.durations[f] = r.set.NewPrometheusHistogramExt(fmt.Sprintf(`covers_transform_render_duration_seconds{format=%q}`, f), renderBuckets)
	}
	r.placeholders = r.set.NewCounter("covers_transform_placeholders_total")
	r.phases = newPhases(r.set)
	r.checks = [2]*metrics.Counter{
		r.set.NewCounter(`covers_transform_checks_total{result="ok"}`),
		r.set.NewCounter(`covers_transform_checks_total{result="error"}`),
	}
	r.metaOutcomes = [2]*metrics.Counter{
		r.set.NewCounter(`covers_transform_meta_total{result="ok"}`),
		r.set.NewCounter(`covers_transform_meta_total{result="error"}`),
	}
	r.metaDuration = r.set.NewPrometheusHistogramExt(`covers_transform_meta_duration_seconds`, renderBuckets)
	r.trimDuration = r.set.NewPrometheusHistogramExt(`covers_transform_trim_duration_seconds`, renderBuckets)
	r.ladders = [2]*metrics.Counter{
		r.set.NewCounter(`covers_transform_ladders_total{result="ok"}`),
		r.set.NewCounter(`covers_transform_ladders_total{result="error"}`),
	}
	r.ladderOutputs = r.set.NewCounter(`covers_transform_ladder_outputs_total`)
	r.ladderDuration = r.set.NewPrometheusHistogramExt(`covers_transform_ladder_duration_seconds`, ladderBuckets)
	r.batched = r.set.NewCounter(`covers_transform_batched_total`)
	r.set.NewGauge("covers_transform_queue_depth", func() float64 { return float64(r.gate.queueDepth()) })
	r.set.NewGauge("covers_transform_in_flight", func() float64 { return float64(r.gate.inFlight()) })
	return r, nil
}

// Metrics returns the renderer's metrics set, for cmd to register.
func (r *Renderer) Metrics() *metrics.Set { return r.set }

// Close stops the render workers. Renders after Close fail.
func (r *Renderer) Close() error {
	r.pool.close()
	return nil
}

// WorkerPIDs lists the process ids of the live render workers (for
// operators and for tests that kill one).
func (r *Renderer) WorkerPIDs() []int { return r.pool.pids() }

// PeakWorkerRSS is the highest peak resident set any render worker reached
// during one operation, in bytes (0 where /proc cannot tell).
func (r *Renderer) PeakWorkerRSS() int64 { return r.pool.peakRSS.Load() }

// Saturated returns an error wrapping ErrOverloaded while the render queue
// is full (a Render now would be refused), counting pending more callers on
// their way to Render as already queued; nil otherwise. Callers use it to
// refuse work that would end in a render before doing anything costly.
func (r *Renderer) Saturated(pending int) error {
	if len(r.gate.admit)+pending >= cap(r.gate.admit) {
		return fmt.Errorf("transform: %d running, %d waiting: %w", r.gate.inFlight(), r.gate.queueDepth(), ErrOverloaded)
	}
	return nil
}

// Renders is the number of render operations that reached a render
// worker, successful or not: a Render is one, and so is a whole ladder
// (RenderLadder, however many outputs it makes, since it decodes once).
// Originals refused by Probe, requests refused by the gate and
// placeholders are not counted.
func (r *Renderer) Renders() uint64 { return r.renders.Load() }

// Render makes one variant of src. The original is probed first (pure Go,
// no decoding), so bombs and non-images are refused before they queue; then
// the render waits for a slot in the gate (ErrOverloaded when the queue is
// full, the context's error when ctx ends first) and a render worker runs
// libvips with the loader for the probed type only. When ctx ends during
// the render, the worker is killed.
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
	if err := req.validateFor(dispW, dispH); err != nil {
		return Result{}, fmt.Errorf("transform render: %w", err)
	}
	g := plan(dispW, dispH, req)
	if int64(g.width)*int64(g.height) > r.cfg.MaxPixels {
		return Result{}, fmt.Errorf("transform render: output %dx%d over %d pixels: %w",
			g.width, g.height, r.cfg.MaxPixels, ErrTooManyPixels)
	}

	if req.Source != "" {
		return r.renderBatched(ctx, src, info, req)
	}
	release, err := r.acquire(ctx, nil)
	if err != nil {
		return Result{}, fmt.Errorf("transform render: %w", err)
	}
	defer release()
	return r.renderOne(ctx, src, info, req)
}

// acquire waits for a render slot (gate.acquire) and runs the test hook.
func (r *Renderer) acquire(ctx context.Context, stop <-chan struct{}) (func(), error) {
	start := time.Now()
	release, err := r.gate.acquireOr(ctx, stop)
	if err != nil {
		return nil, err
	}
	r.phases.queue.UpdateDuration(start)
	if r.beforeWork != nil {
		r.beforeWork()
	}
	return release, nil
}

// renderOne runs one render in a worker; the caller holds a slot.
func (r *Renderer) renderOne(ctx context.Context, src []byte, info Info, req Request) (Result, error) {
	r.renders.Add(1)
	start := time.Now()
	resp, out, err := r.pool.call(ctx, workerRequest{Op: opRender, Req: req}, src)
	r.durations[req.Format].UpdateDuration(start)
	r.phases.observeWork(resp)
	if err != nil {
		r.outcomes[req.Format][1].Inc()
		return Result{}, fmt.Errorf("transform render %s %dx%d from %s %dx%d: %w",
			req.Format, req.Width, req.Height, info.Type, info.Width, info.Height, err)
	}
	r.outcomes[req.Format][0].Inc()
	return Result{Bytes: out, Width: resp.Width, Height: resp.Height, Format: req.Format, ContentType: req.Format.ContentType()}, nil
}

// Check is the ingest check of an original: CheckOriginal (type by magic
// bytes, the size the decoder will allocate, the pixel limit, the end
// markers), then, under the render gate, one whole decode in a render
// worker into a small sample with fail on, whose Traits (variance,
// difference hash, dominant colour, blurhash) come back with the Info. An
// original that libvips cannot decode is ErrRenderFailed, so a broken
// upload never replaces a book's cover. ErrOverloaded (a full queue) is
// passing.
func (r *Renderer) Check(ctx context.Context, src []byte) (Checked, error) {
	info, err := CheckOriginal(src, r.cfg.MaxPixels)
	if err != nil {
		return Checked{}, err
	}
	release, err := r.gate.acquire(ctx)
	if err != nil {
		return Checked{}, fmt.Errorf("transform check: %w", err)
	}
	defer release()
	resp, _, err := r.pool.call(ctx, workerRequest{Op: opCheck}, src)
	if err == nil && resp.Traits == nil {
		err = fmt.Errorf("worker sent no traits: %w", ErrRenderFailed)
	}
	if err != nil {
		r.checks[1].Inc()
		return Checked{}, fmt.Errorf("transform check %s %dx%d: %w", info.Type, info.Width, info.Height, err)
	}
	r.checks[0].Inc()
	return Checked{Info: info, Traits: resp.Traits}, nil
}

// renderBuckets are the upper bounds, in seconds, of the render histograms:
// a 96 px WebP from a cover takes about 10 ms, a 320 px one 35-45 ms, AVIF
// at 1280 px 250-350 ms, a 24 MP original a second or more, on 2 CPUs.
var renderBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// ladderBuckets are the upper bounds, in seconds, of the ladder histogram:
// the default ladder (five presets in WebP and AVIF) takes about 1 s.
var ladderBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60}
