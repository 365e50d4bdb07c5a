package cache

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/bookcovers/image-worker/cover"
	"github.com/golang/groupcache/lru"
)

// storedIndex remembers which variants of a version are in the object
// store, so that a miss of a variant the store does not hold goes straight
// to its render instead of asking the store first (a GET that misses: a
// round trip on the response path and the store's own CPU, on every first
// render of a variant).
//
// What it knows comes from one listing of the version's variants, and from
// the variants this process has stored or read since. A listing costs the
// store about three GETs that miss (MinIO, 16 KB objects), so it is taken
// only for a version that has missed listAfter times in this process, in the
// background (those misses ask the store as before, so a listing never adds
// latency). A listing is trusted for ttl. The index errs one way only: a
// variant it does not know of is asked for in the store as before; a variant
// it believes absent may have been stored since by another replica, which
// costs one render of identical bytes (versions are content hashes and
// renders are deterministic). groupcache routes each key to one owner, so
// that happens only around a change of the peer set or a restart within ttl
// of a listing.
type storedIndex struct {
	ttl       time.Duration
	page      int // a listing of this many names or more may be incomplete: not trusted
	listAfter int // misses of a version before it is listed
	list      func(ctx context.Context, prefix string, limit int) ([]string, error)

	mu       sync.Mutex
	versions *lru.Cache // store prefix of a version's variants (versionOf) -> *versionState
	lists    sync.WaitGroup
}

// versionState is what the index knows of one version. Only a complete
// listing younger than ttl is trusted. Until then it counts the version's
// misses and keeps the names this process stored, for the listing to merge.
type versionState struct {
	trusted  bool
	listing  bool      // a listing is on its way
	at       time.Time // of the last listing (zero: none yet)
	misses   int       // since the last listing
	names    map[string]bool
	tooLarge bool // the last listing filled a page
}

// storedIndexVersions bounds how many versions the index remembers.
const storedIndexVersions = 20000

// storedIndexRetry is how long after a failed listing the next is tried.
const storedIndexRetry = 10 * time.Second

func newStoredIndex(ttl time.Duration, page, listAfter int, list func(ctx context.Context, prefix string, limit int) ([]string, error)) *storedIndex {
	return &storedIndex{ttl: ttl, page: page, listAfter: listAfter, list: list, versions: lru.New(storedIndexVersions)}
}

// versionOf names the set of variants key belongs to by its store prefix:
// a book's version (variants/{book}/{version}/), or a content with its
// trim box (content/{sha256}/variants/), whichever books ask for it.
func versionOf(key cover.VariantKey) string { return key.StorePrefix() }

func nameOf(key cover.VariantKey) string { return key.Name() }

// state returns the state of a version, made if missing. Call with mu held.
func (ix *storedIndex) state(ver string) *versionState {
	if v, ok := ix.versions.Get(ver); ok {
		return v.(*versionState)
	}
	s := &versionState{names: map[string]bool{}}
	ix.versions.Add(ver, s)
	return s
}

// absent reports whether the index knows that key is not in the store. A
// miss it cannot answer counts towards a listing of the version, started in
// the background (bounded by timeout).
func (ix *storedIndex) absent(key cover.VariantKey, timeout time.Duration) bool {
	if ix == nil {
		return false
	}
	ver := versionOf(key)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	s := ix.state(ver)
	age := time.Since(s.at)
	if s.trusted {
		if age < ix.ttl {
			return !s.names[nameOf(key)]
		}
		s.trusted, s.misses = false, 0
	}
	s.misses++
	wait := time.Duration(0)
	switch {
	case s.tooLarge:
		wait = ix.ttl // too many variants to list: ask the store
	case !s.at.IsZero():
		wait = storedIndexRetry // the last listing failed
	}
	if !s.listing && s.misses >= ix.listAfter && age >= wait {
		s.listing = true
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
	prefix := ver
	keys, err := ix.list(ctx, prefix, ix.page)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	s := ix.state(ver)
	s.listing, s.at, s.misses = false, at, 0
	s.tooLarge = err == nil && len(keys) >= ix.page
	s.trusted = err == nil && !s.tooLarge
	for _, k := range keys {
		s.names[strings.TrimPrefix(k, prefix)] = true
	}
}

// stored records that key is in the store (this process wrote or read it).
func (ix *storedIndex) stored(key cover.VariantKey) {
	if ix == nil {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.state(versionOf(key)).names[nameOf(key)] = true
}

// wait waits for the listings in flight (tests).
func (ix *storedIndex) wait() { ix.lists.Wait() }
