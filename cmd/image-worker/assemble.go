package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/ingest"
	"github.com/bookcovers/image-worker/transform"
)

// assembly says what a subcommand needs of the component graph.
type assembly struct {
	// store is an opened store to build on; nil opens the configured one
	// (newStore).
	store cache.Store
	// prerender says when a newly stored original's PRERENDER variants are
	// rendered.
	prerender prerenderMode
	// deliver is where the outbox delivers write-backs (serve); nil for a
	// command that only records them for the serving replicas to deliver.
	deliver ingest.Deliverer
}

// prerenderMode says when the Warmer renders a stored original's PRERENDER
// variants.
type prerenderMode int

const (
	// prerenderBackground (serve): after Warm/Store returns; the job or
	// event is not held for them.
	prerenderBackground prerenderMode = iota
	// prerenderInline (backfill): before Warm returns, so that bulk warming
	// is paced by its own renders instead of skipping them when the render
	// queue is full.
	prerenderInline
	// prerenderNever (import, contact-sheet): a one-off command leaves the
	// variants to the first request.
	prerenderNever
)

// parts is the component graph of the service, built once per process by
// assemble: every subcommand that reads, warms or renders covers (serve,
// import, backfill, contact-sheet) uses it, and serve builds the HTTP
// layer, peers and the consumer on top of it (newApp).
type parts struct {
	cfg       config
	log       *slog.Logger
	store     cache.Store
	renderer  *transform.Renderer
	fetcher   *ingest.Fetcher
	manifests *cache.Manifests
	warmer    *ingest.Warmer
	prerender *ingest.Prerenderer // warms a new cover's PRERENDER variants
	originals *cache.Originals    // recently read originals, for renders
	outbox    *ingest.Outbox      // nil when nothing is written back
	// placeholders refuses publishers' "no image" pictures at ingest.
	placeholders *ingest.PlaceholderRules
}

// originalsCacheBytes bounds the originals kept in memory for renders.
const originalsCacheBytes = 32 << 20

// assemble builds the component graph in dependency order: the store, the
// renderer (its worker processes start on first use and start libvips
// there; this process never decodes an image), the safe fetcher, the manifests, the Warmer with its PRERENDER
// hook, the originals cache and the write-back outbox. It starts nothing in
// the background; close releases what it holds.
func assemble(ctx context.Context, cfg config, logger *slog.Logger, as assembly) (*parts, error) {
	p := &parts{cfg: cfg, log: logger, store: as.store}
	if p.store == nil {
		s, err := newStore(ctx, cfg, logger)
		if err != nil {
			return nil, fmt.Errorf("open object store: %w", err)
		}
		p.store = s
	}
	var err error
	if p.renderer, err = transform.NewRenderer(cfg.Transform, logger); err != nil {
		return nil, fmt.Errorf("start renderer: %w", err)
	}
	if p.fetcher, err = ingest.NewFetcher(cfg.Fetch, logger); err != nil {
		p.close()
		return nil, fmt.Errorf("fetcher: %w", err)
	}
	if p.prerender, err = ingest.NewPrerenderer(cfg.Prerender, p.renderer, p.store, logger); err != nil {
		p.close()
		return nil, fmt.Errorf("prerender: %w", err)
	}
	// A shared manifest load has its own STORE_TIMEOUT; a request waits for
	// it within its own store budget (proxy).
	p.manifests = cache.NewManifests(p.store, cfg.Manifests.TTL, cfg.StoreTimeout)
	p.manifests.SetStale(cfg.Manifests.Stale)
	p.warmer = ingest.NewWarmer(p.fetcher, p.store, p.manifests, p.renderer, logger)
	if p.placeholders, err = newPlaceholderRules(ctx, cfg.Placeholders, p.renderer, logger); err != nil {
		p.close()
		return nil, err
	}
	p.warmer.RefusePlaceholders(p.placeholders)
	p.warmer.Reuse(p.renderer)                 // a content checked before is not decoded again
	p.warmer.TrimBorders(p.renderer, cfg.Trim) // TRIM_BORDERS
	if p.prerender.Enabled() {
		switch as.prerender {
		case prerenderBackground:
			p.warmer.OnStored(p.prerender.Start)
		case prerenderInline:
			p.warmer.OnStored(p.prerender.Inline)
		}
	}
	p.originals = cache.NewOriginals(p.store, originalsCacheBytes)
	if cfg.writeBacks() {
		if p.outbox, err = ingest.NewOutbox(cfg.Outbox, p.store, as.deliver, logger); err != nil {
			p.close()
			return nil, fmt.Errorf("outbox: %w", err)
		}
	}
	return p, nil
}

// newPlaceholderRules builds the placeholder rules, hashing the reference
// pictures of PLACEHOLDER_REFERENCES_DIR (one decode each, in a render
// worker) when it is set.
func newPlaceholderRules(ctx context.Context, cfg ingest.PlaceholderConfig, check ingest.Checker, logger *slog.Logger) (*ingest.PlaceholderRules, error) {
	var refs []ingest.Reference
	if cfg.ReferencesDir != "" {
		var err error
		if refs, err = ingest.LoadReferences(ctx, cfg.ReferencesDir, check); err != nil {
			return nil, fmt.Errorf("placeholder references: %w", err)
		}
		logger.Info("placeholder references hashed", "dir", cfg.ReferencesDir, "references", len(refs))
	}
	return ingest.NewPlaceholderRules(cfg, refs)
}

// close stops the render workers and drops idle fetch connections.
func (p *parts) close() error {
	if p.fetcher != nil {
		p.fetcher.Close()
	}
	if p.renderer != nil {
		return p.renderer.Close()
	}
	return nil
}

// metered lists the parts that export metrics.
func (p *parts) components() []any {
	out := []any{p.store, p.originals, p.renderer, p.fetcher, p.manifests, p.prerender, p.placeholders}
	if p.outbox != nil {
		out = append(out, p.outbox)
	}
	return out
}
