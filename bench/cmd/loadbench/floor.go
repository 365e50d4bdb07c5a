package main

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/bookcovers/image-worker/transform"
)

func vipsVersion() string { return vips.Version }

// floor is the render baseline: transform.Renderer.Render in this process,
// with the service's default transform settings, on the original held in
// memory. It is what libvips can do on this machine through the same code
// path, without HTTP, signature, caches or the object store.
type floor struct {
	r   *transform.Renderer
	src []byte
}

func newFloor(src []byte) (*floor, error) {
	cfg := transform.DefaultConfig()
	cfg.QueueSize = 64
	r, err := transform.NewRenderer(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	return &floor{r: r, src: src}, nil
}

// run renders with `clients` goroutines for dur; widthAt gives the width of
// the i-th render, the same sequence the service is asked for.
func (f *floor) run(ctx context.Context, clients int, dur time.Duration, format transform.Format, widthAt func(i int64) int) *run {
	var seq atomic.Int64
	parts := make([]*run, clients)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(dur)
	for w := range clients {
		parts[w] = newRun()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				_, err := f.r.Render(ctx, f.src, transform.Request{Width: widthAt(seq.Add(1) - 1), Format: format})
				if err != nil {
					parts[w].Errors++
					continue
				}
				parts[w].record(response{status: 200}, time.Since(t0))
			}
		}()
	}
	wg.Wait()
	out := newRun()
	for _, p := range parts {
		out.merge(p)
	}
	out.Elapsed = time.Since(start)
	return out
}
