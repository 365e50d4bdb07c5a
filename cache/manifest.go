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
	"golang.org/x/sync/singleflight"
)

// Manifest names the current version of a book's cover and describes its original.
type Manifest struct {
	BookID      string    `json:"book_id"`
	Version     string    `json:"version"`
	SourceURL   string    `json:"source_url,omitempty"`
	ContentType string    `json:"content_type"`
	Width       int       `json:"width"`
	Height      int       `json:"height"`
	Bytes       int64     `json:"bytes"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// maxManifestEntries bounds the in-process manifest cache; past it the cache is reset.
const maxManifestEntries = 100_000

type manifestEntry struct {
	m       Manifest
	missing bool
	expires time.Time
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

	set                                   *metrics.Set
	hits, misses, loadErr, stales, panics *metrics.Counter
}

// NewManifests returns a manifest resolver. ttl is MANIFEST_TTL: the longest
// a replica keeps serving a version after another replica replaced it,
// while the store answers. When a reload fails because the store does, the
// last answer is served stale for up to DefaultManifestStale past its
// expiry (SetStale), checked again every few seconds.
func NewManifests(store Store, ttl, timeout time.Duration) *Manifests {
	set := metrics.NewSet()
	return &Manifests{
		store:   store,
		ttl:     ttl,
		timeout: timeout,
		stale:   DefaultManifestStale,
		now:     time.Now,
		set:     set,
		hits:    set.NewCounter(`covers_cache_manifest_lookups_total{result="hit"}`),
		misses:  set.NewCounter(`covers_cache_manifest_lookups_total{result="miss"}`),
		loadErr: set.NewCounter(`covers_cache_manifest_lookups_total{result="error"}`),
		stales:  set.NewCounter(`covers_cache_manifest_lookups_total{result="stale"}`),
		panics:  panicCounter(set, "manifests"),
	}
}

// SetStale sets how long past its expiry a manifest may be served while
// the store fails (MANIFEST_STALE); 0 turns stale answers off.
func (ms *Manifests) SetStale(d time.Duration) { ms.stale = d }

// Metrics returns the manifest metrics.
func (ms *Manifests) Metrics() *metrics.Set { return ms.set }

// Current returns the current manifest of a book, or ErrNotFound when the book
// has no stored cover. Answers (including "not found") are cached for the TTL.
// A caller with a store budget (WithStoreBudget) stops waiting for the
// shared load when the budget runs out: it gets the last answer stale when
// there is one to serve, else an error wrapping ErrTimeout.
func (ms *Manifests) Current(ctx context.Context, bookID string) (Manifest, error) {
	now := ms.now()
	v, ok := ms.entries.Load(bookID)
	if e, _ := v.(*manifestEntry); ok && now.Before(e.expires) {
		ms.hits.Inc()
		if e.missing {
			return Manifest{}, fmt.Errorf("manifest %s: %w", bookID, ErrNotFound)
		}
		return e.m, nil
	}
	ms.misses.Inc()
	old, _ := v.(*manifestEntry)
	ch := ms.sf.DoChan(bookID, func() (_ any, err error) {
		defer recoverTo(&err, ms.panics, "load manifest "+bookID)
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
		return Manifest{}, fmt.Errorf("manifest %s: %w", bookID, err)
	case r.Err != nil:
		return Manifest{}, r.Err
	}
	return r.Val.(Manifest), nil
}

// serveStale answers with an entry past its expiry (the store failed).
func (ms *Manifests) serveStale(bookID string, old *manifestEntry) (Manifest, error) {
	ms.stales.Inc()
	if old.missing {
		return Manifest{}, fmt.Errorf("manifest %s (stale): %w", bookID, ErrNotFound)
	}
	return old.m, nil
}

// Load reads a book's manifest from the store, bypassing the TTL cache.
func (ms *Manifests) Load(ctx context.Context, bookID string) (Manifest, error) {
	obj, err := ms.store.Get(ctx, ManifestKey(bookID))
	if err != nil {
		return Manifest{}, fmt.Errorf("load manifest %s: %w", bookID, err)
	}
	var m Manifest
	if err := json.Unmarshal(obj.Data, &m); err != nil {
		return Manifest{}, fmt.Errorf("load manifest %s: decode: %w", bookID, err)
	}
	return m, nil
}

// Put stores a manifest, making its version current, and updates this
// replica's cache at once (other replicas follow within the TTL).
func (ms *Manifests) Put(ctx context.Context, m Manifest) error {
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("put manifest %s: %w", m.BookID, err)
	}
	if err := ms.store.Put(ctx, ManifestKey(m.BookID), data, "application/json"); err != nil {
		return fmt.Errorf("put manifest %s: %w", m.BookID, err)
	}
	ms.remember(m.BookID, ms.fresh(&manifestEntry{m: m}))
	return nil
}

// fresh sets a just-read entry's expiry and stale bound.
func (ms *Manifests) fresh(e *manifestEntry) *manifestEntry {
	e.expires = ms.now().Add(ms.ttl)
	e.staleUntil = e.expires.Add(ms.stale)
	return e
}

// Forget drops a book from this replica's cache.
func (ms *Manifests) Forget(bookID string) {
	ms.entries.Delete(bookID)
}

func (ms *Manifests) remember(bookID string, e *manifestEntry) {
	if ms.count.Load() >= maxManifestEntries {
		ms.entries.Clear()
		ms.count.Store(0)
	}
	if _, loaded := ms.entries.Swap(bookID, e); !loaded {
		ms.count.Add(1)
	}
}
