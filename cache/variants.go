package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/bookcovers/image-worker/cover"
	"github.com/cespare/xxhash/v2"
	"github.com/golang/groupcache"
)

// FillFunc renders a variant that is in neither memory nor the store.
type FillFunc func(ctx context.Context, key cover.VariantKey) ([]byte, error)

// VariantsConfig configures the variant cache.
type VariantsConfig struct {
	GroupName   string        // groupcache group name: unique per process, the same on every replica
	CacheBytes  int64         // GROUPCACHE_SIZE_MB in bytes: groupcache plus the hot index
	FillTimeout time.Duration // budget of one shared fill (store read, render, store write)
	// StoreTimeout (STORE_TIMEOUT) bounds each store phase of a shared fill:
	// its reads (the stored variant, then the original) together, and a
	// write made before the response. A write behind the response has
	// FillTimeout.
	StoreTimeout time.Duration
	// HotBytes bounds the hot index, the lock-light map in front of
	// groupcache that answers repeated hits without a goroutine or a copy.
	// It is carved out of CacheBytes; 0 means CacheBytes/8.
	HotBytes int64
	// WriteBehind is how many rendered variants may be written to the store
	// after their response has gone out; past it, writes happen before the
	// response (backpressure). 0 writes every variant before answering.
	WriteBehind int
	// Shed, when set, is asked before a variant that is in no memory layer
	// is looked up in the store, with the number of other loads that are
	// between that question and their render (reading the store). An error
	// refuses the request at once with that error: cmd passes the
	// renderer's Saturated, so while the render queue is full an overload
	// of new variants costs no store round trip and its excess is answered
	// in about a millisecond (the store's tail latency under load is 100 ms
	// and more on a busy machine). Variants that are only in the store are
	// refused too until the queue has room; memory hits are never affected.
	Shed func(pending int) error
	// StoredIndexTTL is how long a listing of a version's stored variants
	// is trusted to answer "is this variant already stored?" without a
	// store read (storedIndex); 0 asks the store on every miss.
	StoredIndexTTL time.Duration
}

// DefaultVariantsConfig returns the defaults: 256 MiB, 30s fills with 2s
// store phases, 16 writes behind, listings of stored variants trusted for
// 5 minutes.
func DefaultVariantsConfig() VariantsConfig {
	return VariantsConfig{GroupName: "covers", CacheBytes: 256 << 20, FillTimeout: 30 * time.Second, StoreTimeout: 2 * time.Second, WriteBehind: 16, StoredIndexTTL: 5 * time.Minute}
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
	if c.StoreTimeout <= 0 {
		errs = append(errs, errors.New("STORE_TIMEOUT must be positive"))
	}
	if c.HotBytes < 0 || c.HotBytes >= c.CacheBytes && c.CacheBytes > 0 {
		errs = append(errs, errors.New("variants: hot index bytes must be 0 or less than the cache size"))
	}
	if c.WriteBehind < 0 {
		errs = append(errs, errors.New("variants: write-behind must not be negative"))
	}
	if c.StoredIndexTTL < 0 {
		errs = append(errs, errors.New("variants: stored index TTL must not be negative"))
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
	group   groupSlot // handed over by Use
	bytes   int64     // of the group: CacheBytes less the hot index
	hot     *hotIndex[cover.VariantKey]
	store   Store
	fill    FillFunc
	timeout time.Duration
	storeTO time.Duration // StoreTimeout
	reads   storeReads    // fills of this process reading the store
	shed    func(pending int) error
	pending atomic.Int64 // loads past Shed, reading the store
	index   *storedIndex // nil: every miss asks the store
	trims   versionTrims
	log     *slog.Logger
	behind  chan struct{} // write-behind slots
	writes  sync.WaitGroup

	set                                   *metrics.Set
	memHit, memMiss                       *metrics.Counter
	storeHit, storeMiss, storeErr         *metrics.Counter
	storeSkipped                          *metrics.Counter
	renderOK, renderErr, storeWriteErrors *metrics.Counter
	shedTotal                             *metrics.Counter
	panics                                *metrics.Counter
}

type loadMarkKey struct{}

// loadMark lets Get tell whether its own call ran the loader.
type loadMark struct{ loaded bool }

// markLoaded records, in the mark of the Get whose context reached the
// loader (none when a peer asked), that this call ran it.
func markLoaded(ctx context.Context) {
	if mark, ok := ctx.Value(loadMarkKey{}).(*loadMark); ok {
		mark.loaded = true
	}
}

// NewVariants builds the variant cache without its groupcache group: it
// serves once it is handed one (Use), created with cfg.GroupName,
// GroupBytes and Getter. Until then a Get fails with ErrNoGroup.
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
		group:            groupSlot{name: cfg.GroupName},
		bytes:            cfg.CacheBytes - hotBytes,
		hot:              newHotIndex[cover.VariantKey](hotBytes),
		store:            store,
		fill:             fill,
		timeout:          cfg.FillTimeout,
		storeTO:          cfg.StoreTimeout,
		shed:             cfg.Shed,
		log:              logger,
		behind:           make(chan struct{}, cfg.WriteBehind),
		set:              set,
		memHit:           set.NewCounter(`covers_cache_lookups_total{layer="memory",result="hit"}`),
		memMiss:          set.NewCounter(`covers_cache_lookups_total{layer="memory",result="miss"}`),
		storeHit:         set.NewCounter(`covers_cache_lookups_total{layer="store",result="hit"}`),
		storeMiss:        set.NewCounter(`covers_cache_lookups_total{layer="store",result="miss"}`),
		storeErr:         set.NewCounter(`covers_cache_lookups_total{layer="store",result="error"}`),
		storeSkipped:     set.NewCounter(`covers_cache_store_reads_skipped_total`),
		renderOK:         set.NewCounter(`covers_cache_lookups_total{layer="render",result="hit"}`),
		renderErr:        set.NewCounter(`covers_cache_lookups_total{layer="render",result="error"}`),
		storeWriteErrors: set.NewCounter(`covers_cache_store_write_errors_total`),
		shedTotal:        set.NewCounter(`covers_cache_shed_total`),
		panics:           panicCounter(set, "variants"),
	}
	if cfg.StoredIndexTTL > 0 {
		v.index = newStoredIndex(cfg.StoredIndexTTL, storedIndexPage, storedIndexListAfter, func(ctx context.Context, prefix string, limit int) ([]string, error) {
			return store.ListPage(ctx, prefix, "", limit)
		})
	}
	set.NewGauge(`covers_cache_memory_bytes`, func() float64 { return float64(v.group.stats().Bytes) })
	set.NewGauge(`covers_cache_memory_items`, func() float64 { return float64(v.group.stats().Items) })
	set.NewGauge(`covers_cache_hot_bytes`, func() float64 { return float64(v.hot.size()) })
	return v, nil
}

// Getter is the groupcache getter of the variant group: the object store,
// then the fill.
func (v *Variants) Getter() groupcache.Getter { return groupcache.GetterFunc(v.load) }

// GroupBytes is the size of the variant group: CacheBytes less the hot
// index in front of it.
func (v *Variants) GroupBytes() int64 { return v.bytes }

// Use hands the cache its groupcache group, once, before it serves: the
// group cmd created with the config's GroupName, GroupBytes and Getter. It
// refuses nil, a second group and a group of another name.
func (v *Variants) Use(g Group) error { return v.group.use(g) }

// Metrics returns the cache metrics.
func (v *Variants) Metrics() *metrics.Set { return v.set }

// Get returns the bytes of a variant, shared with the cache: the caller
// must not modify them.
func (v *Variants) Get(ctx context.Context, key cover.VariantKey) ([]byte, error) {
	vr, err := v.GetVariant(ctx, key)
	return vr.Bytes, err
}

// GetVariant returns a variant with its tag. A hit in the hot index returns
// at once, with no goroutine and no copy. Otherwise the shared load runs on
// a context detached from ctx with its own timeout; this caller stops
// waiting when ctx ends, without failing the other waiters, or when its
// store budget (WithStoreBudget) runs out while a fill of the key in this
// process is still reading the store (an error wrapping ErrTimeout).
//
// A content key is loaded, stored and held by groupcache once
// (cover.VariantKey.Shared) whichever book asks. The hot index holds it
// under the asking book's key (hotKey), sharing the bytes; the book and
// version are remembered with their content and trim box on that first
// load, so that Cached can answer the book's versioned URL from memory.
func (v *Variants) GetVariant(ctx context.Context, key cover.VariantKey) (Variant, error) {
	if key.Content != "" {
		return v.getContent(ctx, key)
	}
	if vr, ok := v.hot.get(key); ok {
		v.memHit.Inc()
		return vr, nil
	}
	return v.getShared(ctx, key, key)
}

// getContent is GetVariant of a content key.
func (v *Variants) getContent(ctx context.Context, key cover.VariantKey) (Variant, error) {
	hk := hotKey(key)
	if vr, ok := v.hot.get(hk); ok {
		v.memHit.Inc()
		return vr, nil
	}
	v.trims.remember(key)
	return v.getShared(ctx, key.Shared(), hk)
}

// getShared loads key (shared by every book of its content) through
// groupcache and holds it in the hot index under hk.
func (v *Variants) getShared(ctx context.Context, key, hk cover.VariantKey) (Variant, error) {
	group, err := v.group.get()
	if err != nil {
		return Variant{}, fmt.Errorf("get variant: %w", err)
	}
	mark := &loadMark{}
	lctx := context.WithValue(context.WithoutCancel(ctx), loadMarkKey{}, mark)
	skey := key.String()
	b, err := sharedGet(ctx, lctx, v.timeout, group, skey, v.panics, "get variant ", func() bool { return v.reads.active(skey) })
	if err != nil {
		return Variant{}, fmt.Errorf("get variant: %w", err)
	}
	if mark.loaded {
		v.memMiss.Inc()
	} else {
		v.memHit.Inc()
	}
	vr := Variant{Bytes: b, Tag: Tag(b)}
	v.hot.add(hk, vr)
	return vr, nil
}

// hotKey is the key a variant is held under in the hot index: a request's
// own book key (book, version, trim box, size, format), without the content
// its version names, when it has one; else the key as it is. A hit then
// hashes and compares a few short strings, not the 64 hex digits of a
// content. Books sharing a content have an entry each, sharing the bytes
// (the index's byte bound counts them once per entry).
func hotKey(key cover.VariantKey) cover.VariantKey {
	if key.BookID != "" && key.Version != "" {
		key.Content = ""
	}
	return key
}

// Cached returns a variant only if this replica holds it in memory (the
// hot index), with no store read, no render and no wait: what a request can
// still be served when the manifest cannot be read because the store is
// down but its URL names the version. A book key (book, version, size,
// format) finds the variant under the book's key, with the trim box this
// replica served that version with (GetVariant remembers it).
func (v *Variants) Cached(key cover.VariantKey) (Variant, bool) {
	vr, ok := v.hot.get(hotKey(key))
	if !ok && key.Content == "" {
		if trim, known := v.trims.of(key); known {
			key.Trim = trim
			vr, ok = v.hot.get(hotKey(key))
		}
	}
	if ok {
		v.memHit.Inc()
	}
	return vr, ok
}

// Stored tells the variant cache that key was written to the store by
// someone else in this process (the prerenderer), so that its index of
// stored variants reads it from there instead of rendering it again.
func (v *Variants) Stored(key cover.VariantKey) { v.index.stored(key.Shared()) }

// Flush waits until every variant written behind its response is in the
// store and every listing of stored variants has ended, or ctx ends. Call it on shutdown, after the listeners drained.
func (v *Variants) Flush(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		v.writes.Wait()
		if v.index != nil {
			v.index.wait()
		}
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush variants: %w", ctx.Err())
	}
}

// load is the groupcache getter: the object store, then a render whose result
// is written back to the store, behind the response when a slot is free.
// Its reads (the stored variant, then the fill's original) share one
// StoreTimeout from the start of the load, whoever asked for it, and count
// as reading for the waiters until the fill calls StoreReadsDone; a failed
// read never starts a render.
//
// It recovers a panic of the fill itself: groupcache's own singleflight has
// no defer, so a panic escaping here would leave every later load of the
// key waiting forever.
func (v *Variants) load(ctx context.Context, skey string, dest groupcache.Sink) (err error) {
	defer recoverTo(&err, v.panics, "fill variant "+skey)
	markLoaded(ctx)
	key, err := cover.ParseVariantKey(skey)
	if err != nil {
		return err
	}
	if v.shed != nil {
		if err := v.shed(int(v.pending.Load())); err != nil {
			v.shedTotal.Inc()
			return fmt.Errorf("load variant: %w", err)
		}
	}
	end := v.reads.begin(skey)
	defer end()
	fctx := &budgetCtx{Context: ctx, b: storeBudget{deadline: time.Now().Add(v.storeTO), readsDone: end}}
	obj, err := v.readStored(fctx, key)
	switch {
	case err == nil:
		v.storeHit.Inc()
		v.index.stored(key)
		return dest.SetBytes(obj.Data)
	case errors.Is(err, ErrNotFound):
		v.storeMiss.Inc()
	default:
		v.storeErr.Inc()
		return fmt.Errorf("read stored variant: %w", err)
	}
	data, err := v.fill(fctx, key)
	end()
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
			var err error
			defer func() {
				if err != nil {
					v.log.Error("store variant panicked", "variant", key.String(), "layer", "store", "error", err)
				}
			}()
			defer recoverTo(&err, v.panics, "write variant behind "+key.String())
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.timeout)
			defer cancel()
			v.put(wctx, key, data)
		}()
	default:
		// No slot: written before the response, within one store phase.
		wctx, cancel := context.WithTimeout(ctx, v.storeTO)
		defer cancel()
		v.put(wctx, key, data)
	}
	return dest.SetBytes(data)
}

// storedIndexPage is the longest listing of one version's variants the
// stored index trusts; storedIndexListAfter is how many misses of a version
// make it worth listing.
const (
	storedIndexPage      = 1000
	storedIndexListAfter = 3
)

// readStored reads a stored variant, unless the stored index knows it is not
// there (ErrNotFound at once, counted as skipped).
func (v *Variants) readStored(ctx context.Context, key cover.VariantKey) (Object, error) {
	if v.index.absent(key, v.storeTO) {
		v.storeSkipped.Inc()
		return Object{}, fmt.Errorf("read stored variant %s: known absent: %w", key, ErrNotFound)
	}
	v.pending.Add(1)
	defer v.pending.Add(-1)
	return v.getStored(ctx, key)
}

// getStored reads a stored variant within ctx's store budget.
func (v *Variants) getStored(ctx context.Context, key cover.VariantKey) (Object, error) {
	ctx, cancel := withBudget(ctx)
	defer cancel()
	return v.store.Get(ctx, key.StoreKey())
}

// put writes a rendered variant to the store. A failure is counted and
// logged: the bytes are good, and the next replica to miss renders again.
func (v *Variants) put(ctx context.Context, key cover.VariantKey, data []byte) {
	if err := v.store.Put(ctx, key.StoreKey(), data, "image/"+key.Format); err != nil {
		v.storeWriteErrors.Inc()
		v.log.Warn("store variant failed", "variant", key.String(), "layer", "store", "error", err)
		return
	}
	v.index.stored(key)
}
