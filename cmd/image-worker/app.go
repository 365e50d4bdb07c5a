package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
	"github.com/golang/groupcache"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/events"
	"github.com/bookcovers/image-worker/ingest"
	"github.com/bookcovers/image-worker/internal/buildinfo"
	"github.com/bookcovers/image-worker/proxy"
	"github.com/bookcovers/image-worker/signing"
	"github.com/bookcovers/image-worker/transform"
)

// app is the serving process: the component graph (parts, from assemble)
// and what only serve adds on top of it, the HTTP layer, the variant,
// placeholder and metadata caches, jobs, peers, the write-back outlets and
// the Kafka consumer.
type app struct {
	*parts
	variants *cache.Variants
	holders  *cache.Placeholders // placeholders of books without a cover
	metas    *cache.Metas
	jobs     *ingest.Jobs
	http     *proxy.Server
	peers    *cache.Peers // nil without GROUPCACHE_SELF
	outlets  *events.Outlets
	consumer *events.Consumer // nil without KAFKA_BROKERS
	draining atomic.Bool      // set when shutdown begins; /ready turns 503
	sets     []*metrics.Set
}

type metered interface{ Metrics() *metrics.Set }

// grouped is a cache that reads through a groupcache group it is handed.
type grouped interface {
	Getter() groupcache.Getter
	GroupBytes() int64
	Use(cache.Group) error
}

// useNewGroup creates the groupcache group of c and hands it over. This is
// the one place groups are created: groupcache registers them by name for
// the whole process (a name twice panics), so each once per process, and
// peers ask each other for a key by its group's name, so the name is the
// same on every replica.
func useNewGroup(name string, c grouped) error {
	return c.Use(groupcache.NewGroup(name, c.GroupBytes(), c.Getter()))
}

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
	signer, err := signing.New(cfg.Signing)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	outlets, err := events.NewOutlets(ctx, cfg.Kafka, cfg.Catalog, cfg.S3.Bucket, logger)
	if err != nil {
		return nil, err
	}
	p, err := assemble(ctx, cfg, logger, assembly{store: store, deliver: outlets.Notifier})
	if err != nil {
		outlets.Close()
		return nil, err
	}
	a := &app{parts: p, outlets: outlets}
	if err := a.build(signer, logOut); err != nil {
		p.close()
		outlets.Close()
		return nil, err
	}
	return a, nil
}

// build adds the serving components to the assembled parts.
func (a *app) build(signer *signing.Signer, logOut io.Writer) error {
	cfg, logger, store, renderer := a.cfg, a.log, a.store, a.renderer
	var err error
	cfg.Variants.Shed = renderer.Saturated                             // a new variant is refused before any store round trip when renders are saturated
	a.manifests.SetShed(func() error { return renderer.Saturated(0) }) // nor does a manifest load wait for the store then
	a.variants, err = cache.NewVariants(cfg.Variants, store, renderFill(a.originals, renderer), logger)
	if err == nil {
		err = useNewGroup(cfg.Variants.GroupName, a.variants)
	}
	if err != nil {
		return fmt.Errorf("variant cache: %w", err)
	}
	a.prerender.OnStored(a.variants.Stored) // prerendered variants are read, not rendered again
	if a.holders, err = newPlaceholders(cfg, renderer); err != nil {
		return err
	}
	metasCfg := cache.DefaultMetasConfig()
	metasCfg.FillTimeout = cfg.Variants.FillTimeout
	metasCfg.StoreTimeout = cfg.StoreTimeout
	if a.metas, err = cache.NewMetas(metasCfg, store, previewFill(renderer), logger); err != nil {
		return fmt.Errorf("metadata cache: %w", err)
	}
	if cfg.Peers.Enabled() {
		if a.peers, err = cache.NewPeers(cfg.Peers, nil, logger); err != nil {
			return fmt.Errorf("peers: %w", err)
		}
	}
	notifier, outcomes := a.writeBackTargets()
	validateURL := func(raw string) error { _, err := a.fetcher.ValidateURL(raw); return err }
	a.jobs, err = ingest.NewJobs(cfg.Jobs, store, a.warmer, validateURL, notifier, logger)
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	checks := []proxy.Check{{Name: "object_store", Pinger: store}}
	if cfg.kafkaEnabled() {
		a.consumer, err = events.NewConsumer(cfg.Kafka, a.warmer, outcomes, logger)
		if err != nil {
			return fmt.Errorf("kafka consumer: %w", err)
		}
		checks = append(checks, proxy.Check{Name: "kafka", Pinger: a.consumer})
	}
	if a.outlets.Catalog != nil {
		// Reported, never a reason to leave the pool: write-backs wait in the outbox.
		checks = append(checks, proxy.Check{Name: "catalog", Pinger: a.outlets.Catalog})
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
		return fmt.Errorf("http: %w", err)
	}
	components := append(a.parts.components(), a.variants, a.holders, a.metas, a.jobs, a.http)
	if a.peers != nil {
		components = append(components, a.peers)
	}
	if a.consumer != nil {
		components = append(components, a.consumer)
	}
	if a.outlets.Results != nil {
		components = append(components, a.outlets.Results)
	}
	if a.outlets.Catalog != nil {
		components = append(components, a.outlets.Catalog)
	}
	a.sets = append(a.sets, buildinfo.Read(transform.LibvipsVersion()).Metrics())
	for _, m := range components {
		if mm, ok := m.(metered); ok {
			a.sets = append(a.sets, mm.Metrics())
		}
	}
	return nil
}

func (a *app) publicHandler() http.Handler { return a.http.Public() }
func (a *app) internalHandler() http.Handler {
	var peers http.Handler
	if a.peers != nil {
		peers = a.peers.Handler(a.cfg.Proxy.CheckVariantKey)
	}
	return a.http.Internal(a.writeMetrics, peers)
}

// writeMetrics writes the process metrics and every component's set; the
// /metrics handler groups them by family.
func (a *app) writeMetrics(w io.Writer) {
	metrics.WriteProcessMetrics(w)
	for _, s := range a.sets {
		s.WritePrometheus(w)
	}
}

// renderFill renders a variant from the original its key names, by content
// or by book and version (recently read originals are kept in memory by
// originals), with transform.Renderer.RenderVariant, cropped to the key's
// trim box first. It is the seam of cache and transform, neither of which
// imports the other: the originals and the store budget are cache's, the
// render is transform's.
func renderFill(originals *cache.Originals, r *transform.Renderer) cache.FillFunc {
	return func(ctx context.Context, key cover.VariantKey) ([]byte, error) {
		original, err := originals.Get(ctx, key.OriginalKey())
		if err != nil {
			return nil, fmt.Errorf("read original: %w", err)
		}
		cache.StoreReadsDone(ctx) // what follows is the render, not a store call
		return r.RenderVariant(ctx, original, key)
	}
}

// newPlaceholders builds the placeholder cache: its own groupcache group,
// named after the variant group ("-placeholders": the same on every
// replica), memory only, over the renderer's palette.
func newPlaceholders(cfg config, r *transform.Renderer) (*cache.Placeholders, error) {
	pcfg := cache.DefaultPlaceholdersConfig()
	pcfg.GroupName = cfg.Variants.GroupName + "-placeholders"
	pcfg.FillTimeout = cfg.Variants.FillTimeout
	pcfg.Entries = transform.PaletteSize
	p, err := cache.NewPlaceholders(pcfg, placeholderFill(r))
	if err == nil {
		err = useNewGroup(pcfg.GroupName, p)
	}
	if err != nil {
		return nil, fmt.Errorf("placeholder cache: %w", err)
	}
	return p, nil
}

// placeholderFill renders the placeholder of one palette entry, size and
// format, through the render gate.
func placeholderFill(r *transform.Renderer) cache.PlaceholderFillFunc {
	return func(ctx context.Context, key cache.PlaceholderKey) ([]byte, error) {
		format, err := cover.ParseFormat(key.Format)
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
// original (its trim box when trimmed), through the render gate.
func previewFill(r *transform.Renderer) cache.PreviewFunc {
	return func(ctx context.Context, original []byte, trim cover.Rect) (cache.Preview, error) {
		m, err := r.MetaOf(ctx, original, trim)
		if err != nil {
			return cache.Preview{}, err
		}
		return cache.Preview{DominantColor: m.DominantColor, BlurHash: m.BlurHash, LQIP: m.LQIP}, nil
	}
}
