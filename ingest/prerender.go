package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"golang.org/x/sync/singleflight"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/transform"
)

// PrerenderVariant is one variant rendered as soon as a new original is
// stored: a width, a box height (0 keeps the aspect) and a format.
type PrerenderVariant struct {
	Width, Height int
	Fit           bool // a box to fit (padded), not to fill
	Format        cover.Format
}

// PrerenderConfig configures the warming of variants after a new original
// is stored (PRERENDER).
type PrerenderConfig struct {
	// Variants are rendered in one ladder operation; none turns warming off.
	Variants []PrerenderVariant
	// Timeout bounds one book's ladder: the wait for a render slot, the
	// render and the store writes.
	Timeout time.Duration
	// MaxPending is how many books may be warmed in the background at once
	// (Start); past it a book is skipped and counted, and its variants
	// render on demand.
	MaxPending int
}

// DefaultPrerenderConfig returns no variants (cmd fills them), a 60 s
// budget and 4 books in the background.
func DefaultPrerenderConfig() PrerenderConfig {
	return PrerenderConfig{Timeout: 60 * time.Second, MaxPending: 4}
}

// Validate names every problem of the config.
func (c PrerenderConfig) Validate() error {
	var errs []error
	if len(c.Variants) > transform.MaxLadder {
		errs = append(errs, fmt.Errorf("PRERENDER: %d variants, at most %d", len(c.Variants), transform.MaxLadder))
	}
	for _, v := range c.Variants {
		if v.Width <= 0 || v.Height < 0 || v.Fit && v.Height == 0 || !v.Format.Valid() {
			errs = append(errs, fmt.Errorf("PRERENDER: variant %dx%d.%s is not a width (or box) and one of %v", v.Width, v.Height, v.Format, cover.Formats()))
		}
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("prerender: timeout must be positive"))
	}
	if c.MaxPending < 1 {
		errs = append(errs, errors.New("prerender: max pending must be at least 1"))
	}
	return errors.Join(errs...)
}

// Ladder renders several variants of one original in one render operation
// (transform.Renderer.RenderLadderEach).
type Ladder interface {
	RenderLadderEach(ctx context.Context, src []byte, reqs []transform.Request) ([]transform.Result, []error, error)
}

// Prerenderer warms a new cover's variants: every configured variant of
// the version, rendered from the original already in memory in one ladder
// operation under one render slot, each written to the store under its
// variant key (cover.Manifest.Variant's StoreKey, sizes clamped like the
// cover path's), so that the first request of each is a store hit. A cover
// stored by content shares its variants with every book of the same bytes:
// the variants already stored are listed first and not rendered again, and
// concurrent warms of one content share one ladder, so a content is
// rendered once however many books name it. It never fails a warm: a full
// render queue skips the book (the variants render on demand), other
// failures are logged; every outcome is counted.
type Prerenderer struct {
	cfg     PrerenderConfig
	ladder  Ladder
	store   cache.Store
	log     *slog.Logger
	pending chan struct{}
	wg      sync.WaitGroup
	stored  func(cover.VariantKey) // OnStored; nil: no one to tell
	sf      singleflight.Group     // one ladder per set of variants (StorePrefix) at a time

	set      *metrics.Set
	outcomes map[string]*metrics.Counter
	variants *metrics.Counter
}

// Prerender outcomes (covers_ingest_prerenders_total{result}).
const (
	prerenderOK         = "ok"         // every variant stored
	prerenderPartial    = "partial"    // some variants failed to render or store
	prerenderOverloaded = "overloaded" // the render queue was full: skipped
	prerenderBusy       = "busy"       // MaxPending books already warming: skipped
	prerenderError      = "error"      // the ladder failed
	prerenderPresent    = "present"    // every variant was stored already (a cover shared by content): nothing rendered
)

// NewPrerenderer returns a Prerenderer; with no variants it does nothing.
func NewPrerenderer(cfg PrerenderConfig, ladder Ladder, store cache.Store, logger *slog.Logger) (*Prerenderer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Prerenderer{cfg: cfg, ladder: ladder, store: store, log: logger,
		pending: make(chan struct{}, cfg.MaxPending), set: metrics.NewSet(), outcomes: map[string]*metrics.Counter{}}
	for _, r := range []string{prerenderOK, prerenderPartial, prerenderOverloaded, prerenderBusy, prerenderError, prerenderPresent} {
		p.outcomes[r] = p.set.NewCounter(fmt.Sprintf(`covers_ingest_prerenders_total{result=%q}`, r))
	}
	p.variants = p.set.NewCounter(`covers_ingest_prerendered_variants_total`)
	return p, nil
}

// OnStored sets what is told of each variant written to the store (the
// variant cache's index of stored variants, cache.Variants.Stored). Call it
// before the first warm.
func (p *Prerenderer) OnStored(fn func(cover.VariantKey)) {
	if p != nil {
		p.stored = fn
	}
}

// Metrics returns the prerenderer's metrics set.
func (p *Prerenderer) Metrics() *metrics.Set { return p.set }

// Prerendered returns how many books were warmed (every variant or some,
// each one ladder) and how many variants were stored, so far.
func (p *Prerenderer) Prerendered() (books, variants uint64) {
	return p.outcomes[prerenderOK].Get() + p.outcomes[prerenderPartial].Get(), p.variants.Get()
}

// Present returns how many books found every variant stored already (their
// cover shares its content with a book warmed before), so far: nothing was
// rendered for them.
func (p *Prerenderer) Present() uint64 { return p.outcomes[prerenderPresent].Get() }

// Enabled reports whether any variant is configured.
func (p *Prerenderer) Enabled() bool { return p != nil && len(p.cfg.Variants) > 0 }

// Start warms m's variants in the background, on ctx's values without its
// cancellation and within Timeout, and returns at once: a job or event is
// never held for it. When MaxPending books are already warming, the book
// is skipped.
func (p *Prerenderer) Start(ctx context.Context, m cover.Manifest, original []byte) {
	if !p.Enabled() {
		return
	}
	select {
	case p.pending <- struct{}{}:
	default:
		p.outcomes[prerenderBusy].Inc()
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer func() { <-p.pending }()
		defer func() {
			if v := recover(); v != nil {
				p.outcomes[prerenderError].Inc()
				p.log.Error("prerender panicked", "book_id", m.BookID, "version", m.Version, "panic", fmt.Sprint(v))
			}
		}()
		p.Prerender(context.WithoutCancel(ctx), m, original)
	}()
}

// Wait waits for the background warms started so far, until ctx ends.
func (p *Prerenderer) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("prerender: waiting for background warms: %w", ctx.Err())
	}
}

// Inline renders m's variants before it returns (Prerender), for a Warmer
// whose caller is paced by its own renders (backfill) instead of skipping
// them when the render queue is full: a ladder refused because the queue is
// full is tried again after a backoff (Backoff: a delay drawn up to 100 ms,
// the bound doubling per retry up to 2 s) until it runs or the Timeout ends. It has its own Timeout, not what is
// left of ctx's deadline (the warm that stored m spent some of it), and
// stops when ctx is cancelled (an interrupt).
func (p *Prerenderer) Inline(ctx context.Context, m cover.Manifest, original []byte) {
	pctx, cancel := withoutDeadline(ctx)
	defer cancel()
	p.run(pctx, m, original, true)
}

// withoutDeadline returns ctx without its deadline: it ends when ctx is
// cancelled, not when ctx times out.
func withoutDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	d, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		if errors.Is(ctx.Err(), context.Canceled) {
			cancel()
		}
	})
	return d, func() { stop(); cancel() }
}

// Prerender renders every configured variant of m's version from original
// in one ladder and stores each, within Timeout; it returns how many were
// stored. Variants already in the store (a cover shared by content) are
// not rendered again, and a Prerender of variants another one is
// rendering waits for it instead. Failures are counted and logged, never
// returned.
func (p *Prerenderer) Prerender(ctx context.Context, m cover.Manifest, original []byte) int {
	return p.run(ctx, m, original, false)
}

// run is Prerender; queued says whether a ladder refused by a full render
// queue waits for room (Inline) or is skipped.
func (p *Prerenderer) run(ctx context.Context, m cover.Manifest, original []byte, queued bool) int {
	if !p.Enabled() {
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	keys, reqs := p.plan(m)
	set := keys[0].StorePrefix() // one original and trim box: one set
	led := false
	ch := p.sf.DoChan(set, func() (any, error) {
		led = true
		return p.prerender(ctx, m, original, set, keys, reqs, queued), nil
	})
	// The shared ladder runs on its leader's context, within its Timeout:
	// a joiner waits for it (at most that long), the leader for its own.
	out := (<-ch).Val.(prerendered)
	if led {
		return out.stored
	}
	// Another warm of the same content did the work: stored (or found) for
	// both, or skipped or failed for both.
	switch out.outcome {
	case prerenderOK, prerenderPartial:
		out.outcome = prerenderPresent
	}
	p.outcomes[out.outcome].Inc()
	return 0
}

// The backoff (Backoff) of an inline ladder refused because the render
// queue is full.
const (
	queuedRetryBase = 100 * time.Millisecond
	queuedRetryMax  = 2 * time.Second
)

// renderLadder renders reqs in one ladder; queued, a ladder refused
// because the render queue is full is tried again after a Backoff until
// ctx ends.
func (p *Prerenderer) renderLadder(ctx context.Context, original []byte, reqs []transform.Request, queued bool) ([]transform.Result, []error, error) {
	for retry := 0; ; retry++ {
		res, errs, err := p.ladder.RenderLadderEach(ctx, original, reqs)
		if !queued || !errors.Is(err, transform.ErrOverloaded) {
			return res, errs, err
		}
		t := time.NewTimer(Backoff(retry, queuedRetryBase, queuedRetryMax, nil))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return res, errs, err
		}
	}
}

// prerender renders and stores the variants of keys that set (their
// store prefix) does not hold yet.
func (p *Prerenderer) prerender(ctx context.Context, m cover.Manifest, original []byte, set string, keys []cover.VariantKey, reqs []transform.Request, queued bool) (out prerendered) {
	defer func() { p.outcomes[out.outcome].Inc() }()
	keys, reqs = p.missing(ctx, set, keys, reqs)
	if len(keys) == 0 {
		return prerendered{outcome: prerenderPresent}
	}
	res, errs, err := p.renderLadder(ctx, original, reqs, queued)
	switch {
	case errors.Is(err, transform.ErrOverloaded):
		p.log.Info("prerender skipped: render queue full", "book_id", m.BookID, "version", m.Version)
		return prerendered{outcome: prerenderOverloaded}
	case err != nil:
		p.log.Warn("prerender failed", "book_id", m.BookID, "version", m.Version, "error", err.Error())
		return prerendered{outcome: prerenderError}
	}
	stored := 0
	for i, key := range keys {
		if errs[i] != nil {
			p.log.Warn("prerender variant failed", "book_id", m.BookID, "version", m.Version, "variant", key.String(), "error", errs[i].Error())
			continue
		}
		if err := p.store.Put(ctx, key.StoreKey(), res[i].Bytes, "image/"+key.Format); err != nil {
			p.log.Warn("prerender store failed", "book_id", m.BookID, "layer", "store", "variant", key.String(), "error", err.Error())
			continue
		}
		p.tell(key)
		stored++
	}
	p.variants.Add(stored)
	if stored == len(keys) {
		return prerendered{stored: stored, outcome: prerenderOK}
	}
	return prerendered{stored: stored, outcome: prerenderPartial}
}

// prerendered is what one ladder of a set came to.
type prerendered struct {
	stored  int
	outcome string // a key of Prerenderer.outcomes
}

// missing drops the keys whose variants set already holds (one listing),
// telling OnStored of each. A failed listing keeps every key: they are
// rendered, as before there was anything to share.
func (p *Prerenderer) missing(ctx context.Context, set string, keys []cover.VariantKey, reqs []transform.Request) ([]cover.VariantKey, []transform.Request) {
	stored, err := p.store.List(ctx, set)
	if err != nil || len(stored) == 0 {
		return keys, reqs
	}
	have := make(map[string]bool, len(stored))
	for _, k := range stored {
		have[k] = true
	}
	var mk []cover.VariantKey
	var mr []transform.Request
	for i, k := range keys {
		if have[k.StoreKey()] {
			p.tell(k)
			continue
		}
		mk, mr = append(mk, k), append(mr, reqs[i])
	}
	return mk, mr
}

// tell tells OnStored that key is in the store.
func (p *Prerenderer) tell(key cover.VariantKey) {
	if p.stored != nil {
		p.stored(key)
	}
}

// plan returns the distinct variant keys of m and their render requests:
// each size clamped to the original as the cover path clamps it, so the
// key is the one a request for that size looks up.
func (p *Prerenderer) plan(m cover.Manifest) ([]cover.VariantKey, []transform.Request) {
	seen := map[cover.VariantKey]bool{}
	var keys []cover.VariantKey
	var reqs []transform.Request
	for _, v := range p.cfg.Variants {
		key := m.Variant(v.Width, v.Height, v.Fit, string(v.Format))
		if seen[key] {
			continue
		}
		seen[key] = true
		keys = append(keys, key)
		reqs = append(reqs, transform.Request{Width: key.Width, Height: key.Height, Fit: v.Fit, Format: v.Format, Trim: key.Trim})
	}
	return keys, reqs
}
