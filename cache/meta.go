package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/bookcovers/image-worker/cover"
	"golang.org/x/sync/singleflight"
)

// Preview is what a page paints before the cover arrives, computed once per
// version from the original's pixels.
type Preview struct {
	DominantColor string `json:"dominant_color"` // "#rrggbb"
	BlurHash      string `json:"blurhash"`
	LQIP          string `json:"lqip"` // data URI of a tiny WebP
}

// CoverMeta is the metadata of one version of a book's cover, stored at
// MetaKey(book, version) and published as meta.json. Everything but the
// Preview comes from the manifest. It is public: SourceURL is the manifest's
// URL without userinfo, query and fragment (PublicSourceURL), and
// SourceURLSHA256 the hash of the full URL (SourceURLSHA256). Width and
// Height are the cover as its variants show it: the upright original, or
// its trim box (Trim, the manifest's) when its borders were trimmed, which
// the previews are computed from too.
type CoverMeta struct {
	BookID          string `json:"book_id"`
	Version         string `json:"version"`
	SourceURL       string `json:"source_url"`
	SourceURLSHA256 string `json:"source_url_sha256"`
	Width           int    `json:"width"`
	Height          int    `json:"height"`
	Format          string `json:"format"` // of the original: "jpeg", "png", "webp", "avif"...
	Bytes           int64  `json:"bytes"`
	// Trim is the box of the original the cover is cut to (TRIM_BORDERS);
	// absent when it is the whole original.
	Trim *cover.Rect `json:"trim,omitempty"`
	Preview
}

// NewCoverMeta joins a manifest and the preview of its version.
func NewCoverMeta(m cover.Manifest, p Preview) CoverMeta {
	w, h := m.RenderSize()
	cm := CoverMeta{
		BookID: m.BookID, Version: m.Version,
		SourceURL: PublicSourceURL(m.SourceURL), SourceURLSHA256: SourceURLSHA256(m.SourceURL),
		Width: w, Height: h, Bytes: m.Bytes,
		Format:  strings.TrimPrefix(m.ContentType, "image/"),
		Preview: p,
	}
	if box := m.TrimBox(); !box.IsZero() {
		cm.Trim = &box
	}
	return cm
}

// LoadMeta reads the stored metadata of one version (ErrNotFound when it was
// never computed). A record that does not decode, names another version or
// lacks a preview field is ErrNotFound too, so it is computed again.
func LoadMeta(ctx context.Context, store Store, bookID, version string) (CoverMeta, error) {
	obj, err := store.Get(ctx, cover.MetaKey(bookID, version))
	if err != nil {
		return CoverMeta{}, fmt.Errorf("load meta %s/%s: %w", bookID, version, err)
	}
	var cm CoverMeta
	if err := json.Unmarshal(obj.Data, &cm); err != nil || cm.Version != version || cm.BookID != bookID ||
		cm.DominantColor == "" || cm.BlurHash == "" || cm.LQIP == "" {
		return CoverMeta{}, fmt.Errorf("load meta %s/%s: unusable record: %w", bookID, version, ErrNotFound)
	}
	return cm, nil
}

// StoreMeta writes the metadata of one version.
func StoreMeta(ctx context.Context, store Store, cm CoverMeta) error {
	data, err := json.Marshal(cm)
	if err != nil {
		return fmt.Errorf("store meta %s/%s: %w", cm.BookID, cm.Version, err)
	}
	if err := store.Put(ctx, cover.MetaKey(cm.BookID, cm.Version), data, "application/json"); err != nil {
		return fmt.Errorf("store meta %s/%s: %w", cm.BookID, cm.Version, err)
	}
	return nil
}

// PreviewFunc computes the preview of an original, of its trim box when
// trim is not zero (transform.Renderer.MetaOf behind the render gate,
// wired in cmd).
type PreviewFunc func(ctx context.Context, original []byte, trim cover.Rect) (Preview, error)

// MetasConfig configures the metadata cache.
type MetasConfig struct {
	FillTimeout time.Duration // budget of one shared fill: store read, original read, compute, store write
	// StoreTimeout (STORE_TIMEOUT) bounds each store phase of a fill: its
	// two reads together, then its write.
	StoreTimeout time.Duration
	MaxEntries   int // previews kept in memory; past it the map is reset
}

// DefaultMetasConfig returns the defaults: 30s fills with 2s store phases,
// 10,000 previews (about 10 MB).
func DefaultMetasConfig() MetasConfig {
	return MetasConfig{FillTimeout: 30 * time.Second, StoreTimeout: 2 * time.Second, MaxEntries: 10_000}
}

// Validate names every problem.
func (c MetasConfig) Validate() error {
	var errs []error
	if c.FillTimeout <= 0 {
		errs = append(errs, errors.New("metas: fill timeout must be positive"))
	}
	if c.StoreTimeout <= 0 {
		errs = append(errs, errors.New("metas: store timeout must be positive"))
	}
	if c.MaxEntries < 1 {
		errs = append(errs, errors.New("metas: max entries must be at least 1"))
	}
	return errors.Join(errs...)
}

// Metas resolves the metadata of a book's version: process memory, then the
// store, then a computation from the stored original whose result is written
// back. Concurrent callers for one version share one fill, which runs
// detached from any one caller's context with its own timeout; each caller
// stops waiting when its own context ends, or when its store budget
// (WithStoreBudget) runs out while the fill is still reading the store.
type Metas struct {
	store   Store
	compute PreviewFunc
	cfg     MetasConfig
	log     *slog.Logger
	sf      singleflight.Group
	reads   storeReads // fills reading the store

	mu      sync.Mutex
	entries map[string]Preview // by book/version

	set                           *metrics.Set
	memHit, memMiss               *metrics.Counter
	storeHit, storeMiss, storeErr *metrics.Counter
	computeOK, computeErr         *metrics.Counter
	writeErr, panics              *metrics.Counter
}

// NewMetas returns the metadata cache.
func NewMetas(cfg MetasConfig, store Store, compute PreviewFunc, logger *slog.Logger) (*Metas, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	set := metrics.NewSet()
	ms := &Metas{
		store: store, compute: compute, cfg: cfg, log: logger,
		entries:    map[string]Preview{},
		set:        set,
		memHit:     set.NewCounter(`covers_cache_meta_lookups_total{layer="memory",result="hit"}`),
		memMiss:    set.NewCounter(`covers_cache_meta_lookups_total{layer="memory",result="miss"}`),
		storeHit:   set.NewCounter(`covers_cache_meta_lookups_total{layer="store",result="hit"}`),
		storeMiss:  set.NewCounter(`covers_cache_meta_lookups_total{layer="store",result="miss"}`),
		storeErr:   set.NewCounter(`covers_cache_meta_lookups_total{layer="store",result="error"}`),
		computeOK:  set.NewCounter(`covers_cache_meta_computations_total{result="ok"}`),
		panics:     panicCounter(set, "metas"),
		computeErr: set.NewCounter(`covers_cache_meta_computations_total{result="error"}`),
		writeErr:   set.NewCounter(`covers_cache_meta_store_write_errors_total`),
	}
	return ms, nil
}

// Metrics returns the metadata cache metrics.
func (ms *Metas) Metrics() *metrics.Set { return ms.set }

// Computed is the number of successful computations (not counting loads
// from memory or the store).
func (ms *Metas) Computed() uint64 { return ms.computeOK.Get() }

// Get returns the metadata of the manifest's version, computing it once.
func (ms *Metas) Get(ctx context.Context, m cover.Manifest) (CoverMeta, error) {
	if err := cover.ValidBookID(m.BookID); err != nil {
		return CoverMeta{}, fmt.Errorf("get meta: %w", err)
	}
	if err := ValidKey(cover.MetaKey(m.BookID, m.Version)); err != nil || m.Version == "" || strings.Contains(m.Version, "/") {
		return CoverMeta{}, fmt.Errorf("get meta %s: version %q: %w", m.BookID, m.Version, ErrInvalidKey)
	}
	key := m.BookID + "/" + m.Version
	ms.mu.Lock()
	p, ok := ms.entries[key]
	ms.mu.Unlock()
	if ok {
		ms.memHit.Inc()
		return NewCoverMeta(m, p), nil
	}
	ms.memMiss.Inc()
	ch := ms.sf.DoChan(key, func() (_ any, err error) {
		defer recoverTo(&err, ms.panics, "fill meta "+key)
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ms.cfg.FillTimeout)
		defer cancel()
		return ms.fill(lctx, key, m)
	})
	r, err := await(ctx, ch, func() bool { return ms.reads.active(key) })
	switch {
	case err != nil:
		return CoverMeta{}, fmt.Errorf("get meta %s: %w", key, err)
	case r.Err != nil:
		return CoverMeta{}, r.Err
	}
	return NewCoverMeta(m, r.Val.(Preview)), nil
}

// fill is the shared load: the store, else a computation written back. Its
// two reads are one store phase, bounded by StoreTimeout and counted as
// reading for the waiters; its write is another.
func (ms *Metas) fill(ctx context.Context, key string, m cover.Manifest) (Preview, error) {
	endReads := ms.reads.begin(key)
	defer endReads()
	rctx, cancel := context.WithTimeout(ctx, ms.cfg.StoreTimeout)
	defer cancel()
	cm, err := LoadMeta(rctx, ms.store, m.BookID, m.Version)
	switch {
	case err == nil:
		ms.storeHit.Inc()
		ms.remember(m, cm.Preview)
		return cm.Preview, nil
	case errors.Is(err, ErrNotFound):
		ms.storeMiss.Inc()
	default:
		ms.storeErr.Inc()
		return Preview{}, fmt.Errorf("fill meta: %w", err)
	}
	obj, err := ms.store.Get(rctx, m.OriginalKey())
	if err != nil {
		ms.computeErr.Inc()
		return Preview{}, fmt.Errorf("fill meta: read original: %w", err)
	}
	endReads()
	p, err := ms.compute(ctx, obj.Data, m.TrimBox())
	if err != nil {
		ms.computeErr.Inc()
		return Preview{}, fmt.Errorf("fill meta %s/%s: %w", m.BookID, m.Version, err)
	}
	ms.computeOK.Inc()
	wctx, wcancel := context.WithTimeout(ctx, ms.cfg.StoreTimeout)
	defer wcancel()
	if err := StoreMeta(wctx, ms.store, NewCoverMeta(m, p)); err != nil {
		// The preview is good; another replica computes it again.
		ms.writeErr.Inc()
		ms.log.Warn("store meta failed", "book_id", m.BookID, "version", m.Version, "layer", "store", "error", err)
	}
	ms.remember(m, p)
	return p, nil
}

func (ms *Metas) remember(m cover.Manifest, p Preview) {
	ms.mu.Lock()
	if len(ms.entries) >= ms.cfg.MaxEntries {
		clear(ms.entries)
	}
	ms.entries[m.BookID+"/"+m.Version] = p
	ms.mu.Unlock()
}
