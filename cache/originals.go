package cache

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/golang/groupcache/lru"
	"golang.org/x/sync/singleflight"
)

// Originals keeps recently read originals in memory for renders: the
// variants of one cover are usually asked for together (a page shows a
// thumbnail and a larger size, in WebP and AVIF), and each render would
// otherwise read the same original from the store. Concurrent reads of one
// original share a single store read. An original is immutable (its key
// is the content hash, or carries it), so an entry is never stale. Safe for
// concurrent use.
type Originals struct {
	store Store
	limit int64
	sf    singleflight.Group

	mu    sync.Mutex
	lru   *lru.Cache // key -> []byte, bounded by bytes (evictions below)
	bytes int64

	hits, misses, panics *metrics.Counter
	readTime             *metrics.PrometheusHistogram
	set                  *metrics.Set
}

// NewOriginals keeps up to maxBytes of originals; 0 keeps none (every Get
// reads the store).
func NewOriginals(store Store, maxBytes int64) *Originals {
	set := metrics.NewSet()
	o := &Originals{store: store, limit: maxBytes, lru: lru.New(0), set: set,
		hits:   set.NewCounter(`covers_cache_original_lookups_total{result="hit"}`),
		misses: set.NewCounter(`covers_cache_original_lookups_total{result="miss"}`),
		panics: panicCounter(set, "originals"),
		// A phase of the time split of renders (transform's phases): the
		// read of the original a render starts from, from memory or the store.
		readTime: set.NewPrometheusHistogramExt(`covers_render_phase_duration_seconds{phase="read_original"}`, readOriginalBuckets)}
	o.lru.OnEvicted = func(_ lru.Key, v any) { o.bytes -= int64(len(v.([]byte))) }
	set.NewGauge(`covers_cache_original_bytes`, func() float64 {
		o.mu.Lock()
		defer o.mu.Unlock()
		return float64(o.bytes)
	})
	return o
}

// Metrics returns the originals metrics.
func (o *Originals) Metrics() *metrics.Set { return o.set }

// Get returns the original stored at key (cover.VariantKey.OriginalKey,
// cover.Manifest.OriginalKey: by content, or under a book's version),
// shared: the caller must not modify it. Errors are the store's
// (ErrNotFound when missing).
func (o *Originals) Get(ctx context.Context, key string) ([]byte, error) {
	defer o.readTime.UpdateDuration(time.Now())
	o.mu.Lock()
	if v, ok := o.lru.Get(key); ok {
		o.mu.Unlock()
		o.hits.Inc()
		return v.([]byte), nil
	}
	o.mu.Unlock()
	o.misses.Inc()
	ch := o.sf.DoChan(key, func() (_ any, err error) {
		defer recoverTo(&err, o.panics, "load original "+key)
		// Detached from this caller, bounded by its deadline and its store budget.
		rctx, cancel := withBudget(context.WithoutCancel(ctx))
		defer cancel()
		if d, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			rctx, cancel = context.WithDeadline(rctx, d)
			defer cancel()
		}
		obj, err := o.store.Get(rctx, key)
		if err != nil {
			return nil, err
		}
		o.add(key, obj.Data)
		return obj.Data, nil
	})
	r, err := await(ctx, ch, alwaysReading)
	if err == nil {
		err = r.Err
	}
	if err != nil {
		return nil, fmt.Errorf("get original: %w", err)
	}
	return r.Val.([]byte), nil
}

func (o *Originals) add(key string, data []byte) {
	n := int64(len(data))
	if n > o.limit/4 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.lru.Get(key); ok {
		return
	}
	for o.bytes+n > o.limit && o.lru.Len() > 0 {
		o.lru.RemoveOldest() // OnEvicted takes its bytes off
	}
	o.lru.Add(key, data)
	o.bytes += n
}

// readOriginalBuckets are the upper bounds, in seconds, of the read_original
// phase: a memory hit in microseconds to a store read at its budget.
var readOriginalBuckets = []float64{0.0001, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}
