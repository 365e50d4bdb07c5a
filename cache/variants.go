package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/golang/groupcache"
)

// FillFunc renders a variant that is in neither memory nor the store.
type FillFunc func(ctx context.Context, key VariantKey) ([]byte, error)

// VariantsConfig configures the variant cache.
type VariantsConfig struct {
	GroupName   string        // groupcache group name; unique per process
	CacheBytes  int64         // GROUPCACHE_SIZE_MB in bytes
	FillTimeout time.Duration // budget of one shared fill (store read, render, store write)
}

// DefaultVariantsConfig returns the defaults: 256 MiB, 30s fills.
func DefaultVariantsConfig() VariantsConfig {
	return VariantsConfig{GroupName: "covers", CacheBytes: 256 << 20, FillTimeout: 30 * time.Second}
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
	return errors.Join(errs...)
}

// Variants is the two-layer variant cache: groupcache memory (shared across
// peers), then the object store, then the fill function. groupcache
// deduplicates concurrent loads of one key, so a variant is rendered once.
type Variants struct {
	group   *groupcache.Group
	store   Store
	fill    FillFunc
	timeout time.Duration
	log     *slog.Logger

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
	set := metrics.NewSet()
	v := &Variants{
		store:            store,
		fill:             fill,
		timeout:          cfg.FillTimeout,
		log:              logger,
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
	v.group = groupcache.NewGroup(cfg.GroupName, cfg.CacheBytes, groupcache.GetterFunc(v.load))
	set.NewGauge(`covers_cache_memory_bytes`, func() float64 {
		return float64(v.group.CacheStats(groupcache.MainCache).Bytes + v.group.CacheStats(groupcache.HotCache).Bytes)
	})
	set.NewGauge(`covers_cache_memory_items`, func() float64 {
		return float64(v.group.CacheStats(groupcache.MainCache).Items + v.group.CacheStats(groupcache.HotCache).Items)
	})
	return v, nil
}

// Metrics returns the cache metrics.
func (v *Variants) Metrics() *metrics.Set { return v.set }

// Get returns the bytes of a variant. The shared load runs on a context
// detached from ctx with its own timeout; this caller stops waiting when ctx
// ends, without failing the other waiters.
func (v *Variants) Get(ctx context.Context, key VariantKey) ([]byte, error) {
	mark := &loadMark{}
	lctx, cancel := context.WithTimeout(context.WithValue(context.WithoutCancel(ctx), loadMarkKey{}, mark), v.timeout)
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		defer cancel()
		var b []byte
		err := v.group.Get(lctx, key.String(), groupcache.AllocatingByteSliceSink(&b))
		ch <- result{b, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("get variant: %w", r.err)
		}
		if mark.loaded {
			v.memMiss.Inc()
		} else {
			v.memHit.Inc()
		}
		return r.b, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("get variant: %w", ctx.Err())
	}
}

// load is the groupcache getter: the object store, then a render whose result
// is written back to the store.
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
	if err := v.store.Put(ctx, key.StoreKey(), data, "image/"+key.Format); err != nil {
		// The bytes are good; the next replica to miss renders again.
		v.storeWriteErrors.Inc()
		v.log.Warn("store variant failed", "book_id", key.BookID, "layer", "store", "error", err)
	}
	return dest.SetBytes(data)
}
