package main

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/transform"
)

func vipsVersion() string { return vips.Version }

// floor is the render baseline: libvips alone, through govips, in this
// process: vips_thumbnail_buffer (shrink-on-load, fail on) and webpsave or
// heifsave with the service's default quality, effort and bit depth,
// metadata stripped, on the original held in memory. It is what users
// compare an origin against: everything the service adds (HTTP, signature,
// caches, the object store, the probe, the hop to a render worker) is
// outside it.
type floor struct {
	cfg transform.Config
	src []byte
}

func newFloor(src []byte) (*floor, error) {
	cfg := transform.DefaultConfig()
	transform.Startup(cfg, slog.New(slog.DiscardHandler))
	return &floor{cfg: cfg, src: src}, nil
}

// render makes one variant with libvips alone.
func (f *floor) render(width int, format cover.Format) error {
	img, err := vips.LoadThumbnailFromBuffer(f.src, width, 10_000_000, vips.InterestingNone, vips.SizeDown, vips.NewImportParams())
	if err != nil {
		return err
	}
	defer img.Close()
	if format == cover.AVIF {
		p := vips.NewAvifExportParams()
		p.Quality, p.Effort, p.Bitdepth, p.StripMetadata = f.cfg.AVIFQuality, f.cfg.AVIFEffort, 8, true
		_, _, err = img.ExportAvif(p)
		return err
	}
	p := vips.NewWebpExportParams()
	p.Quality, p.StripMetadata = f.cfg.WebPQuality, true
	_, _, err = img.ExportWebp(p)
	return err
}

// run renders with `clients` goroutines for dur; widthAt gives the width of
// the i-th render, the same sequence the service is asked for.
func (f *floor) run(ctx context.Context, clients int, dur time.Duration, format cover.Format, widthAt func(i int64) int) *run {
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
				if err := f.render(widthAt(seq.Add(1)-1), format); err != nil {
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
