package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/bookcovers/image-worker/cover"
	"golang.org/x/sync/singleflight"
)

// maxManifestEntries bounds the in-process manifest cache; past it the cache is reset.
const maxManifestEntries = 100_000

type manifestEntry struct {
	m       cover.Manifest
	missing bool
	expires time.Time
	// refreshAt is when a hit starts a reload in the background (refresh
	// ahead), so that a book asked for steadily never waits for the store
	// when its entry runs out; refreshing is set by the hit that starts it.
	refreshAt  time.Time
	refreshing atomic.Bool
	// staleUntil is how long the answer may still be served when a reload
	// fails because the store does: its first expiry plus the stale bound.
	staleUntil time.Time
}

// DefaultManifestStale is how long a manifest is served stale while the
// store cannot be reached (MANIFEST_STALE).
const DefaultManifestStale = time.Hour

// staleRetry is how soon a stale answer is checked against the store again.
const staleRetry = 5 * time.Second

// Manifests resolves a book's current version through the store with a short
// in-process TTL. Concurrent lookups of one book share one store read, which
// runs detached from any one caller's context so an impatient client does not
// fail the others.
type Manifests struct {
	store   Store
	ttl     time.Duration
	timeout time.Duration
	now     func() time.Time
	sf      singleflight.Group

	// entries maps a book id to its manifestEntry. Reads vastly outnumber
	// writes (one per book per TTL), so a sync.Map keeps every cache hit
	// off a shared lock.
	entries sync.Map
	count   atomic.Int64 // entries stored since the last reset

	stale time.Duration
	shed  func() error // SetShed; nil: never shed

	set                                              *metrics.Set
	hits, misses, loadErr, stales, refreshes, panics *metrics.Counter
	sheds                                            *metrics.Counter
}

// NewManifests returns a manifest resolver. ttl is MANIFEST_TTL: the longest
// a replica keeps serving a version after another replica replaced it,
// while the store answers. When a reload fails because the store does, the
// last answer is served stale for up to DefaultManifestStale past its
// expiry (SetStale), checked again every few seconds.
func NewManifests(store Store, ttl, timeout time.Duration) *Manifests {
	set := metrics.NewSet()
	return &Manifests{
		store:     store,
		ttl:       ttl,
		timeout:   timeout,
		stale:     DefaultManifestStale,
		now:       time.Now,
		set:       set,
		hits:      set.NewCounter(`covers_cache_manifest_lookups_total{result="hit"}`),
		misses:    set.NewCounter(`covers_cache_manifest_lookups_total{result="miss"}`),
		loadErr:   set.NewCounter(`covers_cache_manifest_lookups_total{result="error"}`),
		stales:    set.NewCounter(`covers_cache_manifest_lookups_total{result="stale"}`),
		refreshes: set.NewCounter(`covers_cache_manifest_refreshes_total`),
		sheds:     set.NewCounter(`covers_cache_manifest_lookups_total{result="shed"}`),
		panics:    panicCounter(set, "manifests"),
	}
}

// SetStale sets how long past its expiry a manifest may be served while
// the store fails (MANIFEST_STALE); 0 turns stale answers off.
func (ms *Manifests) SetStale(d time.Duration) { ms.stale = d }

// SetShed sets what a lookup asks before it waits on the store for a book
// with no fresh entry (cmd passes the renderer's Saturated). While it
// returns an error (the render queue is full), such a lookup does not
// wait: a book with an entry past its TTL (within MANIFEST_STALE) gets that
// entry while a reload runs in the background; a book with no entry gets
// the error at once. During a render overload a first request for a book
// then costs a millisecond instead of a store round trip that would mostly
// end in the same 503 (the store's latency under that load is hundreds of
// milliseconds), and books asked for steadily keep their answers fresh
// through refresh ahead. Call it before the first lookup.
func (ms *Manifests) SetShed(fn func() error) { ms.shed = fn }

// Metrics returns the manifest metrics.
func (ms *Manifests) Metrics() *metrics.Set { return ms.set }

// Current returns the current manifest of a book, or ErrNotFound when the book
// has no stored cover. Answers (including "not found") are cached for the TTL.
// A caller with a store budget (WithStoreBudget) stops waiting for the
// shared load when the budget runs out: it gets the last answer stale when
// there is one to serve, else an error wrapping ErrTimeout.
func (ms *Manifests) Current(ctx context.Context, bookID string) (cover.Manifest, error) {
	now := ms.now()
	v, ok := ms.entries.Load(bookID)
	if e, _ := v.(*manifestEntry); ok && now.Before(e.expires) {
		ms.hits.Inc()
		if !e.refreshAt.IsZero() && !now.Before(e.refreshAt) && e.refreshing.CompareAndSwap(false, true) {
			ms.refreshAhead(ctx, bookID)
		}
		if e.missing {
			return cover.Manifest{}, fmt.Errorf("manifest %s: %w", bookID, ErrNotFound)
		}
		return e.m, nil
	}
	ms.misses.Inc()
	old, _ := v.(*manifestEntry)
	if ms.shed != nil {
		if err := ms.shed(); err != nil {
			if old != nil && now.Before(old.staleUntil) {
				if old.refreshing.CompareAndSwap(false, true) {
					ms.refreshAhead(ctx, bookID)
				}
				return ms.serveStale(bookID, old)
			}
			ms.sheds.Inc()
			return cover.Manifest{}, fmt.Errorf("manifest %s: not loaded while shedding: %w", bookID, err)
		}
	}
	ch := ms.sf.DoChan(bookID, func() (_ any, err error) {
		defer recoverTo(&err, ms.panics, "load manifest "+bookID)
		m, err := ms.reload(ctx, bookID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			// The store failed, not the book: serve the last answer stale
			// (within its bound), and ask the store again shortly.
			if old != nil && ms.now().Before(old.staleUntil) {
				ms.remember(bookID, &manifestEntry{m: old.m, missing: old.missing,
					expires: ms.now().Add(min(staleRetry, ms.ttl)), staleUntil: old.staleUntil})
				return ms.serveStale(bookID, old)
			}
		}
		return m, err
	})
	r, err := await(ctx, ch, alwaysReading)
	switch {
	case errors.Is(err, errBudgetSpent) && old != nil && ms.now().Before(old.staleUntil):
		// This caller's store budget ran out while the store is slow: the
		// last answer, as the load will serve it when it fails too.
		return ms.serveStale(bookID, old)
	case err != nil:
		return cover.Manifest{}, fmt.Errorf("manifest %s: %w", bookID, err)
	case r.Err != nil:
		return cover.Manifest{}, r.Err
	}
	return r.Val.(cover.Manifest), nil
}

// refreshAhead reloads a book's manifest in the background while its entry
// is still served: the last quarter of the TTL (at most refreshAheadMax) of
// an entry that is asked for. A failed reload leaves the entry as it is; it
// expires at its time, and the next lookup loads (or serves stale) as usual.
// The entry's expiry never moves later than a TTL after a successful read,
// so MANIFEST_TTL still bounds how long a replaced version is served.
func (ms *Manifests) refreshAhead(ctx context.Context, bookID string) {
	ms.refreshes.Inc()
	ms.sf.DoChan(bookID, func() (_ any, err error) {
		defer recoverTo(&err, ms.panics, "refresh manifest "+bookID)
		return ms.reload(ctx, bookID)
	})
}

// reload reads a book's manifest from the store, detached from ctx's
// cancellation and within the load timeout, and caches the answer (a
// manifest, or none). A store failure is counted and returned; the cache
// is left as it was.
func (ms *Manifests) reload(ctx context.Context, bookID string) (cover.Manifest, error) {
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ms.timeout)
	defer cancel()
	m, err := ms.Load(lctx, bookID)
	switch {
	case err == nil:
		ms.remember(bookID, ms.fresh(&manifestEntry{m: m}))
	case errors.Is(err, ErrNotFound):
		ms.remember(bookID, ms.fresh(&manifestEntry{missing: true}))
	default:
		ms.loadErr.Inc()
	}
	return m, err
}

// refreshAheadMax bounds how early before its expiry an entry is reloaded.
const refreshAheadMax = 5 * time.Second

// serveStale answers with an entry past its expiry (the store failed).
func (ms *Manifests) serveStale(bookID string, old *manifestEntry) (cover.Manifest, error) {
	ms.stales.Inc()
	if old.missing {
		return cover.Manifest{}, fmt.Errorf("manifest %s (stale): %w", bookID, ErrNotFound)
	}
	return old.m, nil
}

// Load reads a book's manifest from the store, bypassing the TTL cache.
func (ms *Manifests) Load(ctx context.Context, bookID string) (cover.Manifest, error) {
	m, _, err := ms.read(ctx, bookID)
	return m, err
}

// errManifestDecode marks a stored manifest that is not valid JSON.
var errManifestDecode = errors.New("decode")

// read returns the stored manifest and the ETag of its object.
func (ms *Manifests) read(ctx context.Context, bookID string) (cover.Manifest, string, error) {
	obj, err := ms.store.Get(ctx, cover.ManifestKey(bookID))
	if err != nil {
		return cover.Manifest{}, "", fmt.Errorf("load manifest %s: %w", bookID, err)
	}
	var m cover.Manifest
	if err := json.Unmarshal(obj.Data, &m); err != nil {
		return cover.Manifest{}, obj.ETag, fmt.Errorf("load manifest %s: %w: %w", bookID, errManifestDecode, err)
	}
	return m, obj.ETag, nil
}

// maxManifestSwaps bounds the compare-and-swap attempts of one Advance. An
// attempt fails only when another writer replaced the manifest with an
// older cover between the read and the write, and each such writer is then
// done, so it takes that many writers of one book at once to run out.
const maxManifestSwaps = 16

// Put is Advance without its answer: it makes m current unless the store
// holds a cover at least as new.
func (ms *Manifests) Put(ctx context.Context, m cover.Manifest) error {
	_, err := ms.Advance(ctx, m)
	return err
}

// Advance makes m the book's current manifest unless the stored one is at
// least as new (Supersedes), and returns the manifest current afterwards:
// m, or the newer one it found. Losing to a newer cover is not an error.
// When the stored manifest names the same original (the same version, and
// the same content or none recorded), m keeps its trim box (keepTrim): the
// variants of a version never change, whatever TRIM_BORDERS says now.
// The write is compare-and-swap on the object's ETag (If-None-Match for a
// book without a manifest), so replicas racing on one book end on the
// newest cover; a manifest that does not decode is replaced. This
// replica's cache learns the answer at once (others within the TTL). When
// other writers keep winning the swap maxManifestSwaps times the error
// wraps ErrUnavailable, so callers retry later.
func (ms *Manifests) Advance(ctx context.Context, m cover.Manifest) (cover.Manifest, error) {
	for range maxManifestSwaps {
		cur, etag, err := ms.read(ctx, m.BookID)
		cond := Condition{IfMatch: etag}
		switch {
		case errors.Is(err, ErrNotFound):
			cond = Condition{IfNoneMatch: true}
		case errors.Is(err, errManifestDecode):
			// Unreadable: any cover is newer.
		case err != nil:
			return cover.Manifest{}, fmt.Errorf("advance manifest: %w", err)
		case !m.Supersedes(cur):
			ms.remember(m.BookID, ms.fresh(&manifestEntry{m: cur}))
			return cur, nil
		default:
			m = keepTrim(m, cur)
		}
		data, err := json.Marshal(m)
		if err != nil {
			return cover.Manifest{}, fmt.Errorf("advance manifest %s: %w", m.BookID, err)
		}
		_, err = ms.store.PutIf(ctx, cover.ManifestKey(m.BookID), data, "application/json", cond)
		if err == nil {
			ms.remember(m.BookID, ms.fresh(&manifestEntry{m: m}))
			return m, nil
		}
		if !errors.Is(err, ErrPrecondition) {
			return cover.Manifest{}, fmt.Errorf("advance manifest %s: %w", m.BookID, err)
		}
	}
	return cover.Manifest{}, fmt.Errorf("advance manifest %s: replaced by other writers %d times in a row: %w",
		m.BookID, maxManifestSwaps, ErrUnavailable)
}

// keepTrim gives m, a book's new manifest, the trim box of cur, its current
// one, when both name the same original: a version's variants are made
// from the same pixels on every replica whatever their setting now.
func keepTrim(m, cur cover.Manifest) cover.Manifest {
	if m.Content != "" && cur.Version == m.Version && (cur.Content == "" || cur.Content == m.Content) {
		m.Trim = cur.TrimBox()
	}
	return m
}

// fresh sets a just-read entry's expiry, refresh-ahead time and stale bound.
func (ms *Manifests) fresh(e *manifestEntry) *manifestEntry {
	e.expires = ms.now().Add(ms.ttl)
	e.refreshAt = e.expires.Add(-min(ms.ttl/4, refreshAheadMax))
	e.staleUntil = e.expires.Add(ms.stale)
	return e
}

// Forget drops a book from this replica's cache.
func (ms *Manifests) Forget(bookID string) {
	ms.entries.Delete(bookID)
}

// remember caches e for a book. A live entry naming a newer cover is kept:
// a lookup that read the store before this replica advanced the manifest
// must not put the older cover back for a TTL.
func (ms *Manifests) remember(bookID string, e *manifestEntry) {
	if ms.count.Load() >= maxManifestEntries {
		ms.entries.Clear()
		ms.count.Store(0)
	}
	for {
		v, loaded := ms.entries.LoadOrStore(bookID, e)
		if !loaded {
			ms.count.Add(1)
			return
		}
		old := v.(*manifestEntry)
		if !old.missing && !e.missing && ms.now().Before(old.expires) && old.m.Supersedes(e.m) {
			return
		}
		if ms.entries.CompareAndSwap(bookID, v, e) {
			return
		}
	}
}
