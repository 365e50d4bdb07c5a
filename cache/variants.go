package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/cespare/xxhash/v2"
	"github.com/golang/groupcache"
)

// FillFunc renders a variant that is in neither memory nor the store.
type FillFunc func(ctx context.Context, key VariantKey) ([]byte, error)

// VariantsConfig configures the variant cache.
type VariantsConfig struct {
	GroupName   string        // groupcache group name; unique per process
	CacheBytes  int64         // GROUPCACHE_SIZE_MB in bytes: groupcache plus the hot index
	FillTimeout time.Duration // budget of one shared fill (store read, render, store write)
	// HotBytes bounds the hot index, the lock-light map in front of
	// groupcache that answers repeated hits without a goroutine or a copy.
	// It is carved out of CacheBytes; 0 means CacheBytes/8.
	HotBytes int64
	// WriteBehind is how many rendered variants may be written to the store
	// after their response has gone out; past it, writes happen before the
	// response (backpressure). 0 writes every variant before answering.
	WriteBehind int
}

// DefaultVariantsConfig returns the defaults: 256 MiB, 30s fills, 16 writes behind.
func DefaultVariantsConfig() VariantsConfig {
	return VariantsConfig{GroupName: "covers", CacheBytes: 256 << 20, FillTimeout: 30 * time.Second, WriteBehind: 16}
}

// Validate names every problem of the config.
func (c VariantsConfig) Validate() error {
	var errs []error
	if c.GroupName == "" {
		errs = append(errs, errors.New("variants: group name is empty"))
	}
	if c.CacheBytes <= 0 {
		errs = append(errs, errors.New("GROUPCACHE_SIZE_MB must be positive"))
	}
	if c.FillTimeout <= 0 {
		errs = append(errs, errors.New("variants: fill timeout must be positive"))
	}
	if c.HotBytes < 0 || c.HotBytes >= c.CacheBytes && c.CacheBytes > 0 {
		errs = append(errs, errors.New("variants: hot index bytes must be 0 or less than the cache size"))
	}
	if c.WriteBehind < 0 {
		errs = append(errs, errors.New("variants: write-behind must not be negative"))
	}
	return errors.Join(errs...)
}

// Variant is a cached variant. Bytes is shared with the cache and must not
// be modified. Tag is a strong validator of exactly these bytes, the quoted
// hex of their 64-bit xxhash, usable as an HTTP ETag.
type Variant struct {
	Bytes []byte
	Tag   string
}

// Tag returns the validator Variant.Tag holds for b.
func Tag(b []byte) string {
	return `"` + strconv.FormatUint(xxhash.Sum64(b), 16) + `"`
}

// Variants is the two-layer variant cache: groupcache memory (shared across
// peers), then the object store, then the fill function. groupcache
// deduplicates concurrent loads of one key, so a variant is rendered once.
// A hot index in front of groupcache answers repeated hits on the caller's
// goroutine with the bytes and their tag computed once.
type Variants struct {
	group   *groupcache.Group
	hot     *hotIndex
	store   Store
	fill    FillFunc
	timeout time.Duration
	log     *slog.Logger
	behind  chan struct{} // write-behind slots
	writes  sync.WaitGroup

	set                                   *metrics.Set
	memHit, memMiss                       *metrics.Counter
	storeHit, storeMiss, storeErr         *metrics.Counter
	renderOK, renderErr, storeWriteErrors *metrics.Counter
}

type loadMarkKey struct{}

// loadMark lets Get tell whether its own call ran the loader.
type loadMark struct{ loaded bool }

// NewVariants creates the groupcache group. groupcache keeps a process-wide
// registry of groups, so each name may be used once per process.
func NewVariants(cfg VariantsConfig, store Store, fill FillFunc, logger *slog.Logger) (*Variants, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	hotBytes := cfg.HotBytes
	if hotBytes == 0 {
		hotBytes = cfg.CacheBytes / 8
	}
	set := metrics.NewSet()
	v := &Variants{
		hot:              newHotIndex(hotBytes),
		store:            store,
		fill:             fill,
		timeout:          cfg.FillTimeout,
		log:              logger,
		behind:           make(chan struct{}, cfg.WriteBehind),
		set:              set,
		memHit:           set.NewCounter(`covers_cache_lookups_total{layer="memory",result="hit"}`),
		memMiss:          set.NewCounter(`covers_cache_lookups_total{layer="memory",result="miss"}`),
		storeHit:         set.NewCounter(`covers_cache_lookups_total{layer="store",result="hit"}`),
		storeMiss:        set.NewCounter(`covers_cache_lookups_total{layer="store",result="miss"}`),
		storeErr:         set.NewCounter(`covers_cache_lookups_total{layer="store",result="error"}`),
		renderOK:         set.NewCounter(`covers_cache_lookups_total{layer="render",result="hit"}`),
		renderErr:        set.NewCounter(`covers_cache_lookups_total{layer="render",result="error"}`),
		storeWriteErrors: set.NewCounter(`covers_cache_store_write_errors_total`),
	}
	v.group = groupcache.NewGroup(cfg.GroupName, cfg.CacheBytes-hotBytes, groupcache.GetterFunc(v.load))
	set.NewGauge(`covers_cache_memory_bytes`, func() float64 {
		return float64(v.group.CacheStats(groupcache.MainCache).Bytes + v.group.CacheStats(groupcache.HotCache).Bytes)
	})
	set.NewGauge(`covers_cache_memory_items`, func() float64 {
		return float64(v.group.CacheStats(groupcache.MainCache).Items + v.group.CacheStats(groupcache.HotCache).Items)
	})
	set.NewGauge(`covers_cache_hot_bytes`, func() float64 { return float64(v.hot.size()) })
	return v, nil
}

// Metrics returns the cache metrics.
func (v *Variants) Metrics() *metrics.Set { return v.set }

// Get returns the bytes of a variant, shared with the cache: the caller
// must not modify them.
func (v *Variants) Get(ctx context.Context, key VariantKey) ([]byte, error) {
	vr, err := v.GetVariant(ctx, key)
	return vr.Bytes, err
}

// GetVariant returns a variant with its tag. A hit in the hot index returns
// at once, with no goroutine and no copy. Otherwise the shared load runs on
// a context detached from ctx with its own timeout; this caller stops
// waiting when ctx ends, without failing the other waiters.
func (v *Variants) GetVariant(ctx context.Context, key VariantKey) (Variant, error) {
	if vr, ok := v.hot.get(key); ok {
		v.memHit.Inc()
		return vr, nil
	}
	mark := &loadMark{}
	lctx, cancel := context.WithTimeout(context.WithValue(context.WithoutCancel(ctx), loadMarkKey{}, mark), v.timeout)
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		defer cancel()
		var view groupcache.ByteView
		err := v.group.Get(lctx, key.String(), groupcache.ByteViewSink(&view))
		ch <- result{viewBytes(view), err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return Variant{}, fmt.Errorf("get variant: %w", r.err)
		}
		if mark.loaded {
			v.memMiss.Inc()
		} else {
			v.memHit.Inc()
		}
		vr := Variant{Bytes: r.b, Tag: Tag(r.b)}
		v.hot.add(key, vr)
		return vr, nil
	case <-ctx.Done():
		return Variant{}, fmt.Errorf("get variant: %w", ctx.Err())
	}
}

// Flush waits until every variant written behind its response is in the
// store, or ctx ends. Call it on shutdown, after the listeners drained.
func (v *Variants) Flush(ctx context.Context) error {
	done := make(chan struct{})
	go func() { v.writes.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush variants: %w", ctx.Err())
	}
}

// load is the groupcache getter: the object store, then a render whose result
// is written back to the store, behind the response when a slot is free.
func (v *Variants) load(ctx context.Context, skey string, dest groupcache.Sink) error {
	if mark, ok := ctx.Value(loadMarkKey{}).(*loadMark); ok {
		mark.loaded = true
	}
	key, err := ParseVariantKey(skey)
	if err != nil {
		return err
	}
	obj, err := v.store.Get(ctx, key.StoreKey())
	switch {
	case err == nil:
		v.storeHit.Inc()
		return dest.SetBytes(obj.Data)
	case errors.Is(err, ErrNotFound):
		v.storeMiss.Inc()
	default:
		v.storeErr.Inc()
		return fmt.Errorf("read stored variant: %w", err)
	}
	data, err := v.fill(ctx, key)
	if err != nil {
		v.renderErr.Inc()
		return fmt.Errorf("fill variant: %w", err)
	}
	v.renderOK.Inc()
	select {
	case v.behind <- struct{}{}:
		v.writes.Add(1)
		go func() {
			defer v.writes.Done()
			defer func() { <-v.behind }()
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.timeout)
			defer cancel()
			v.put(wctx, key, data)
		}()
	default:
		v.put(ctx, key, data)
	}
	return dest.SetBytes(data)
}

// put writes a rendered variant to the store. A failure is counted and
// logged: the bytes are good, and the next replica to miss renders again.
func (v *Variants) put(ctx context.Context, key VariantKey, data []byte) {
	if err := v.store.Put(ctx, key.StoreKey(), data, "image/"+key.Format); err != nil {
		v.storeWriteErrors.Inc()
		v.log.Warn("store variant failed", "book_id", key.BookID, "layer", "store", "error", err)
	}
}

// byteGrabber captures the slice a ByteView writes, without copying it.
type byteGrabber struct{ b []byte }

func (g *byteGrabber) Write(p []byte) (int, error) { g.b = p; return len(p), nil }

// viewBytes returns the bytes behind a groupcache ByteView without a copy.
// The values this cache stores are always byte-backed and never modified.
func viewBytes(view groupcache.ByteView) []byte {
	var g byteGrabber
	_, _ = view.WriteTo(&g)
	return g.b
}

// hotIndex maps recently served keys to their variants, sharing the bytes
// with groupcache. It is bounded in bytes; when full, entries picked by map
// iteration order (effectively at random) make room. Keys are immutable
// (a version is a content hash), so an entry is never stale.
type hotIndex struct {
	mu    sync.RWMutex
	m     map[VariantKey]Variant
	bytes int64
	limit int64
}

func newHotIndex(limit int64) *hotIndex {
	return &hotIndex{m: make(map[VariantKey]Variant), limit: limit}
}

func (h *hotIndex) get(k VariantKey) (Variant, bool) {
	h.mu.RLock()
	v, ok := h.m[k]
	h.mu.RUnlock()
	return v, ok
}

func (h *hotIndex) add(k VariantKey, v Variant) {
	n := int64(len(v.Bytes))
	if n > h.limit/4 {
		return // one huge variant must not flush the index
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.m[k]; ok {
		return
	}
	for ek, ev := range h.m {
		if h.bytes+n <= h.limit {
			break
		}
		delete(h.m, ek)
		h.bytes -= int64(len(ev.Bytes))
	}
	h.m[k] = v
	h.bytes += n
}

func (h *hotIndex) size() int64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.bytes
}
