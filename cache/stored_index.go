package cache

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/golang/groupcache/lru"
)

// storedIndex remembers which variants of a version are in the object
// store, so that a miss of a variant the store does not hold goes straight
// to its render instead of asking the store first (a GET that misses: a
// round trip on the response path and the store's own CPU, on every first
// render of a variant).
//
// What it knows comes from one listing of the version's variants, taken in
// the background after the first miss of that version in this process (that
// miss asks the store as before, so the listing never adds latency), and
// from the variants this process has stored or read since. A listing is
// trusted for ttl. The index errs one way only: a variant it does not know
// of is asked for in the store as before; a variant it believes absent may
// have been stored since by another replica, which costs one render of
// identical bytes (versions are content hashes and renders are
// deterministic). groupcache routes each key to one owner, so that happens
// only around a change of the peer set or a restart within ttl of a listing.
type storedIndex struct {
	ttl  time.Duration
	page int // a listing of this many names or more is incomplete: not trusted
	list func(ctx context.Context, prefix string, limit int) ([]string, error)

	mu       sync.Mutex
	versions *lru.Cache // "book/version" -> *versionListing
	inFlight map[string]bool
	lists    sync.WaitGroup
}

// versionListing is what the index knows of one version. Only a complete
// listing is trusted; an untrusted entry keeps the names this process stored
// while a listing was on its way, and when the last listing failed or was
// too long to be complete, so that it is not retried at once.
type versionListing struct {
	at      time.Time
	trusted bool
	names   map[string]bool // "320.webp", "320x480.avif"
}

// storedIndexVersions bounds how many versions the index remembers.
const storedIndexVersions = 20000

// storedIndexRetry is how long after a failed listing the next is tried.
const storedIndexRetry = 10 * time.Second

func newStoredIndex(ttl time.Duration, page int, list func(ctx context.Context, prefix string, limit int) ([]string, error)) *storedIndex {
	return &storedIndex{ttl: ttl, page: page, list: list, versions: lru.New(storedIndexVersions), inFlight: map[string]bool{}}
}

func versionOf(key VariantKey) string { return key.BookID + "/" + key.Version }

func nameOf(key VariantKey) string { return key.Size() + "." + key.Format }

// absent reports whether the index knows that key is not in the store. When
// it has no trusted listing of the version, it starts one in the background
// (bounded by timeout) and reports false.
func (ix *storedIndex) absent(key VariantKey, timeout time.Duration) bool {
	if ix == nil {
		return false
	}
	ver := versionOf(key)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	var retryAfter time.Duration
	if v, ok := ix.versions.Get(ver); ok {
		l := v.(*versionListing)
		age := time.Since(l.at)
		switch {
		case l.trusted && age < ix.ttl:
			return !l.names[nameOf(key)]
		case l.trusted:
			ix.versions.Remove(ver)
		case l.at.IsZero():
			retryAfter = 0 // names kept for a listing on its way
		case len(l.names) >= ix.page:
			retryAfter = ix.ttl // too many variants to list: ask the store
		default:
			retryAfter = storedIndexRetry
		}
		if age < retryAfter {
			return false
		}
	}
	if !ix.inFlight[ver] {
		ix.inFlight[ver] = true
		ix.lists.Add(1)
		go ix.fetch(ver, timeout)
	}
	return false
}

// fetch lists the stored variants of one version and remembers them,
// trusted unless the listing failed or may be incomplete.
func (ix *storedIndex) fetch(ver string, timeout time.Duration) {
	defer ix.lists.Done()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	at := time.Now()
	prefix := variantsPrefix + ver + "/"
	keys, err := ix.list(ctx, prefix, ix.page)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	delete(ix.inFlight, ver)
	l := &versionListing{at: at, trusted: err == nil && len(keys) < ix.page, names: make(map[string]bool, len(keys))}
	for _, k := range keys {
		l.names[strings.TrimPrefix(k, prefix)] = true
	}
	// Variants stored by this process while the listing was on its way.
	if v, ok := ix.versions.Get(ver); ok {
		for n := range v.(*versionListing).names {
			l.names[n] = true
		}
	}
	ix.versions.Add(ver, l)
}

// stored records that key is in the store (this process wrote or read it).
func (ix *storedIndex) stored(key VariantKey) {
	if ix == nil {
		return
	}
	ver := versionOf(key)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if v, ok := ix.versions.Get(ver); ok {
		v.(*versionListing).names[nameOf(key)] = true
		return
	}
	if ix.inFlight[ver] {
		ix.versions.Add(ver, &versionListing{names: map[string]bool{nameOf(key): true}})
	}
}

// wait waits for the listings in flight (tests).
func (ix *storedIndex) wait() { ix.lists.Wait() }
