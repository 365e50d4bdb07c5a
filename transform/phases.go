package transform

import (
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// The phases of a render, each a series of
// covers_render_phase_duration_seconds (the cache adds read_original, the
// read of the original a render starts from):
//
//	queue          waiting for a render slot in the gate (renders and ladders)
//	decode_resize  in the worker: probe, decode with shrink-on-load, resize,
//	               crop, colour conversion (renders and ladders)
//	encode         in the worker: the WebP/AVIF encoder (renders and ladders)
//
// What a render's total (covers_transform_render_duration_seconds) holds
// beyond decode_resize and encode is the hand-off to the worker process
// and back.
const (
	phaseQueue        = "queue"
	phaseDecodeResize = "decode_resize"
	phaseEncode       = "encode"
)

// PhaseMetric is the histogram family of the time split of a render.
const PhaseMetric = "covers_render_phase_duration_seconds"

// phaseBuckets are the upper bounds, in seconds, of the phase histograms:
// a queue wait of nothing to the request's deadline, an encode of a few ms
// (a small WebP) to seconds (a large AVIF).
var phaseBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// phases holds the histograms of the time split.
type phases struct {
	queue, decodeResize, encode *metrics.PrometheusHistogram
}

func newPhases(set *metrics.Set) phases {
	h := func(phase string) *metrics.PrometheusHistogram {
		return set.NewPrometheusHistogramExt(PhaseMetric+`{phase="`+phase+`"}`, phaseBuckets)
	}
	return phases{queue: h(phaseQueue), decodeResize: h(phaseDecodeResize), encode: h(phaseEncode)}
}

// observeWork records a worker's report of a render or a ladder.
func (p phases) observeWork(resp workerResponse) {
	if resp.WorkNanos <= 0 {
		return
	}
	enc := min(resp.EncodeNanos, resp.WorkNanos)
	p.decodeResize.Update(time.Duration(resp.WorkNanos - enc).Seconds())
	p.encode.Update(time.Duration(enc).Seconds())
}

// encodeClock adds up, in a worker, the time one operation spent in the
// encoders. A worker runs one operation at a time.
type encodeClock struct{ spent time.Duration }

// since adds the time since start; deferred at the top of an encode.
func (c *encodeClock) since(start time.Time) {
	if c != nil {
		c.spent += time.Since(start)
	}
}
