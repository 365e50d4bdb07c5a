package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/events"
	"github.com/bookcovers/image-worker/ingest"
	"github.com/bookcovers/image-worker/proxy"
	"github.com/bookcovers/image-worker/signing"
	"github.com/bookcovers/image-worker/transform"
)

// app is the assembled service: every component, built with explicit
// arguments, in dependency order.
type app struct {
	cfg       config
	log       *slog.Logger
	store     cache.Store
	renderer  *transform.Renderer
	manifests *cache.Manifests
	variants  *cache.Variants
	holders   *cache.Placeholders // placeholders of books without a cover
	metas     *cache.Metas
	warmer    *ingest.Warmer
	jobs      *ingest.Jobs
	http      *proxy.Server
	peers     *cache.Peers // nil without GROUPCACHE_SELF
	outlets   *outlets
	outbox    *ingest.Outbox   // nil when nothing is written back
	consumer  *events.Consumer // nil without KAFKA_BROKERS
	draining  atomic.Bool      // set when shutdown begins; /ready turns 503
	sets      []*metrics.Set
}

type metered interface{ Metrics() *metrics.Set }

// newStore opens MinIO/S3 when S3_ENDPOINT is set, else the embedded local store.
func newStore(ctx context.Context, cfg config, logger *slog.Logger) (cache.Store, error) {
	if cfg.S3.Endpoint != "" {
		return cache.NewMinIOStore(ctx, cfg.S3, logger)
	}
	logger.Info("using the embedded local store", "data_dir", cfg.DataDir)
	return cache.NewLocalStore(cfg.DataDir)
}

// newApp builds the service on an opened store. It starts nothing in the background.
// logOut is the stream logger writes to (access lines go to it directly, in
// batches); nil sends them through logger.
func newApp(ctx context.Context, cfg config, store cache.Store, logger *slog.Logger, logOut io.Writer) (*app, error) {
	if cfg.Signing.Disabled {
		logger.Warn("URL SIGNING IS DISABLED (IMAGE_SIGNING_DISABLED=true): anyone can request any size of any cover; never run this in production")
	}
	renderer, err := transform.NewRenderer(cfg.Transform, logger)
	if err != nil {
		return nil, fmt.Errorf("start renderer: %w", err)
	}
	signer, err := signing.New(cfg.Signing)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	a := &app{cfg: cfg, log: logger, store: store, renderer: renderer}
	warmer, manifests, fetcher, err := newWarmPipeline(cfg, store, renderer, logger)
	if err != nil {
		return nil, err
	}
	a.warmer, a.manifests = warmer, manifests
	originals := cache.NewOriginals(store, 32<<20)
	cfg.Variants.Shed = renderer.Saturated // a new variant is refused before any store round trip when renders are saturated
	a.variants, err = cache.NewVariants(cfg.Variants, store, renderFill(originals, renderer), logger)
	if err != nil {
		return nil, fmt.Errorf("variant cache: %w", err)
	}
	if a.holders, err = newPlaceholders(cfg, renderer); err != nil {
		return nil, err
	}
	metasCfg := cache.DefaultMetasConfig()
	metasCfg.FillTimeout = cfg.Variants.FillTimeout
	metasCfg.StoreTimeout = cfg.StoreTimeout
	if a.metas, err = cache.NewMetas(metasCfg, store, previewFill(renderer), logger); err != nil {
		return nil, fmt.Errorf("metadata cache: %w", err)
	}
	if cfg.Peers.Enabled() {
		if a.peers, err = cache.NewPeers(cfg.Peers, nil, logger); err != nil {
			return nil, fmt.Errorf("peers: %w", err)
		}
	}
	if a.outlets, err = newOutlets(ctx, cfg, logger); err != nil {
		return nil, err
	}
	if a.outbox, err = newOutbox(cfg, store, a.outlets.notifier, logger); err != nil {
		a.outlets.close()
		return nil, err
	}
	notifier, outcomes := a.writeBackTargets()
	validateURL := func(raw string) error { _, err := fetcher.ValidateURL(raw); return err }
	a.jobs, err = ingest.NewJobs(cfg.Jobs, store, a.warmer, validateURL, notifier, logger)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	checks := []proxy.Check{{Name: "object_store", Pinger: store}}
	if cfg.kafkaEnabled() {
		a.consumer, err = events.NewConsumer(cfg.Kafka, a.warmer, outcomes, logger)
		if err != nil {
			return nil, fmt.Errorf("kafka consumer: %w", err)
		}
		checks = append(checks, proxy.Check{Name: "kafka", Pinger: a.consumer})
	}
	if a.outlets.catalog != nil {
		// Reported, never a reason to leave the pool: write-backs wait in the outbox.
		checks = append(checks, proxy.Check{Name: "catalog", Pinger: a.outlets.catalog})
	}
	a.http, err = proxy.New(cfg.Proxy, proxy.Deps{
		Manifests: a.manifests, Variants: a.variants, Placeholders: a.holders,
		Jobs: a.jobs, Verifier: signer, Checks: checks, Logger: logger, LogOutput: logOut,
		Draining: a.draining.Load,
		Metas:    a.metas, Signer: signer, JobWaiter: a.jobs, ProcessWait: cfg.Jobs.Timeout,
		Purge: func(ctx context.Context, bookID string) (cache.PurgeResult, error) {
			return cache.Purge(ctx, store, a.manifests, bookID)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	components := []any{store, originals, renderer, fetcher, a.manifests, a.variants, a.holders, a.metas, a.jobs, a.http}
	if a.peers != nil {
		components = append(components, a.peers)
	}
	if a.consumer != nil {
		components = append(components, a.consumer)
	}
	if a.outlets.catalog != nil {
		components = append(components, a.outlets.catalog)
	}
	if a.outbox != nil {
		components = append(components, a.outbox)
	}
	for _, m := range components {
		if mm, ok := m.(metered); ok {
			a.sets = append(a.sets, mm.Metrics())
		}
	}
	return a, nil
}

func (a *app) publicHandler() http.Handler { return a.http.Public() }
func (a *app) internalHandler() http.Handler {
	var peers http.Handler
	if a.peers != nil {
		peers = a.peers.Handler(a.cfg.Proxy.CheckVariantKey)
	}
	return a.http.Internal(a.writeMetrics, peers)
}

func (a *app) writeMetrics(w io.Writer) {
	metrics.WriteProcessMetrics(w)
	for _, s := range a.sets {
		s.WritePrometheus(w)
	}
}

// renderFill renders a variant from the original of its version (recently
// read originals are kept in memory by originals).
func renderFill(originals *cache.Originals, r *transform.Renderer) cache.FillFunc {
	return func(ctx context.Context, key cache.VariantKey) ([]byte, error) {
		format, err := transform.ParseFormat(key.Format)
		if err != nil {
			return nil, err
		}
		original, err := originals.Get(ctx, key.BookID, key.Version)
		if err != nil {
			return nil, fmt.Errorf("read original: %w", err)
		}
		cache.StoreReadsDone(ctx) // what follows is the render, not a store call
		res, err := r.Render(ctx, original, transform.Request{Width: key.Width, Height: key.Height, Format: format})
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", key, err)
		}
		return res.Bytes, nil
	}
}

// newPlaceholders builds the placeholder cache: its own groupcache group,
// named after the variant group (the same on every replica), memory only,
// over the renderer's palette.
func newPlaceholders(cfg config, r *transform.Renderer) (*cache.Placeholders, error) {
	pcfg := cache.DefaultPlaceholdersConfig()
	pcfg.GroupName = cfg.Variants.GroupName + "-placeholders"
	pcfg.FillTimeout = cfg.Variants.FillTimeout
	pcfg.Entries = transform.PaletteSize
	p, err := cache.NewPlaceholders(pcfg, placeholderFill(r))
	if err != nil {
		return nil, fmt.Errorf("placeholder cache: %w", err)
	}
	return p, nil
}

// placeholderFill renders the placeholder of one palette entry, size and
// format, through the render gate.
func placeholderFill(r *transform.Renderer) cache.PlaceholderFillFunc {
	return func(ctx context.Context, key cache.PlaceholderKey) ([]byte, error) {
		format, err := transform.ParseFormat(key.Format)
		if err != nil {
			return nil, err
		}
		res, err := r.Placeholder(ctx, key.Entry, transform.Request{Width: key.Width, Height: key.Height, Format: format})
		if err != nil {
			return nil, fmt.Errorf("render placeholder %s: %w", key, err)
		}
		return res.Bytes, nil
	}
}

// previewFill computes a cover's dominant colour, blurhash and LQIP from its
// original, through the render gate.
func previewFill(r *transform.Renderer) cache.PreviewFunc {
	return func(ctx context.Context, original []byte) (cache.Preview, error) {
		m, err := r.Meta(ctx, original)
		if err != nil {
			return cache.Preview{}, err
		}
		return cache.Preview{DominantColor: m.DominantColor, BlurHash: m.BlurHash, LQIP: m.LQIP}, nil
	}
}

var errUsage = errors.New("usage")

// newWarmPipeline builds the ingest path of the service (the safe fetcher,
// the manifests and the Warmer, which checks each original by decoding it
// in one of the renderer's workers) on an opened store: newApp and the
// commands that warm covers in-process (backfill) share it.
func newWarmPipeline(cfg config, store cache.Store, renderer *transform.Renderer, logger *slog.Logger) (*ingest.Warmer, *cache.Manifests, *ingest.Fetcher, error) {
	fetcher, err := ingest.NewFetcher(cfg.Fetch, logger)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("fetcher: %w", err)
	}
	// A shared manifest load has its own STORE_TIMEOUT; a request waits for
	// it within its own store budget (proxy).
	manifests := cache.NewManifests(store, cfg.ManifestTTL, cfg.StoreTimeout)
	manifests.SetStale(cfg.ManifestStale)
	warmer := ingest.NewWarmer(fetcher, store, manifests, renderer, logger)
	return warmer, manifests, fetcher, nil
}
