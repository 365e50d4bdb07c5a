package transform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

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
	var res Result
	onRenderThread(func() { res, err = r.render(decodable(info, src), g, req) })
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
	buf, err := r.encodeHere(img, req.Format)
	if err != nil {
		return Result{}, err
	}
	return Result{Bytes: buf, Width: img.Width(), Height: img.Height(), Format: req.Format, ContentType: req.Format.ContentType()}, nil
}

// encode writes img as WebP or AVIF with every metadata block stripped, on
// a render thread (libvips evaluates the whole pipeline while encoding).
func (r *Renderer) encode(img *vips.ImageRef, f Format) (buf []byte, err error) {
	onRenderThread(func() { buf, err = r.encodeHere(img, f) })
	return buf, err
}

// encodeHere is encode on the calling thread.
func (r *Renderer) encodeHere(img *vips.ImageRef, f Format) ([]byte, error) {
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

// Renders run at a lower CPU priority than request handling: the threads
// that call libvips at nice renderNice, libvips' own worker threads (where
// most of the pixel work happens) in SCHED_IDLE. Under CPU contention, cache
// hits, the 503s of a full queue and the object store client go first; on
// an idle machine renders still use every CPU. Measured on 2 CPUs: cache-hit
// throughput during a render overload went from 0.45 of the idle rate
// (same priority) to about 0.7 (nice 10) and 0.75-0.8 (workers in
// SCHED_IDLE); see docs/benchmarks.md.
const renderNice = 10

// libvipsWorkerName is the name (comm) libvips gives its pool threads.
const libvipsWorkerName = "libvips worker"

// renderThreads are OS threads that run libvips calls at renderNice. A
// thread's nice value cannot be lowered again without privileges, so these
// threads are locked to their goroutines and never run anything else; they
// are created on demand (at most one per render in flight, process-wide,
// like libvips itself) and kept. Threads libvips starts from them inherit
// their priority; the ones it started from other threads are found by name
// after each render (lowerWorkers).
var renderThreads struct {
	mu       sync.Mutex
	idle     []chan func()
	seen     map[int]bool // libvips worker threads already lowered
	lastScan atomic.Int64 // unix nanoseconds
	scanOff  atomic.Bool  // no /proc here, or setpriority refused
}

// onRenderThread runs f on a low-priority render thread and waits for it.
// A panic in f is re-raised in the caller.
func onRenderThread(f func()) {
	renderThreads.mu.Lock()
	var jobs chan func()
	if n := len(renderThreads.idle); n > 0 {
		jobs = renderThreads.idle[n-1]
		renderThreads.idle = renderThreads.idle[:n-1]
	}
	renderThreads.mu.Unlock()
	if jobs == nil {
		jobs = make(chan func())
		go renderThread(jobs)
	}
	done := make(chan any, 1)
	jobs <- func() {
		defer func() { done <- recover() }()
		f()
	}
	p := <-done
	renderThreads.mu.Lock()
	renderThreads.idle = append(renderThreads.idle, jobs)
	renderThreads.mu.Unlock()
	lowerWorkers()
	if p != nil {
		panic(p)
	}
}

func renderThread(jobs chan func()) {
	runtime.LockOSThread() // for good: the thread keeps its priority and serves nothing else
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), renderNice)
	for job := range jobs {
		job()
	}
}

// lowerWorkers gives libvips' pool threads started from ordinary threads
// (by Meta, or before the first render) the render priority. It reads
// /proc/self/task at most every 250 ms.
func lowerWorkers() {
	now := time.Now().UnixNano()
	last := renderThreads.lastScan.Load()
	if renderThreads.scanOff.Load() || now-last < int64(250*time.Millisecond) || !renderThreads.lastScan.CompareAndSwap(last, now) {
		return
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		renderThreads.scanOff.Store(true)
		return
	}
	renderThreads.mu.Lock()
	defer renderThreads.mu.Unlock()
	if renderThreads.seen == nil {
		renderThreads.seen = map[int]bool{}
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil || renderThreads.seen[tid] {
			continue
		}
		// A new thread names itself after it starts: look again next
		// time at any thread that is not (yet) a libvips worker.
		comm, err := os.ReadFile("/proc/self/task/" + t.Name() + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != libvipsWorkerName {
			continue
		}
		if err := lowerWorker(tid); err != nil {
			renderThreads.scanOff.Store(true)
			return
		}
		renderThreads.seen[tid] = true
	}
}

// schedIdle is Linux's SCHED_IDLE policy.
const schedIdle = 5

// lowerWorker puts a libvips worker thread in SCHED_IDLE: it runs when no
// ordinary thread of the process wants the CPU, and a waking request
// handler preempts it at once (with a nice value alone the kernel's EEVDF
// scheduler lets the running render finish its slice first). Worker threads
// run only C code, so an idle-priority worker never holds up the Go
// scheduler. Where SCHED_IDLE is refused, the nice value is the fallback.
func lowerWorker(tid int) error {
	var param struct{ priority int32 }
	if _, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(tid), schedIdle, uintptr(unsafe.Pointer(&param))); errno == 0 {
		return nil
	}
	return syscall.Setpriority(syscall.PRIO_PROCESS, tid, renderNice)
}
