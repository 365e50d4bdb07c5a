package cache

import (
	"strings"
	"sync"

	"github.com/bookcovers/image-worker/cover"
)

// maxContentAliases bounds the memory of which content a book's version is;
// past it the memory is reset (it only serves Cached while the store is down).
const maxContentAliases = 100_000

// contentAliases remembers, for each book version this replica served by a
// content key, that content and its trim box: a versioned URL names the
// book and the version, not the content or the box, and when the manifest
// cannot be read (the store is down) this is how the variant in memory is
// found. A book key's load from the hot index onwards (not its hits)
// remembers it, and a version is written once: the read is a map lookup
// under a read lock, with no allocation.
type contentAliases struct {
	mu sync.RWMutex
	m  map[aliasKey]contentAlias
}

type aliasKey struct{ book, version string }

type contentAlias struct {
	content string
	trim    cover.Rect
}

// remember records the content and trim box of key's book and version.
func (a *contentAliases) remember(key cover.VariantKey) {
	if key.BookID == "" || key.Version == "" {
		return
	}
	k, alias := aliasKey{key.BookID, key.Version}, contentAlias{key.Content, key.Trim}
	a.mu.RLock()
	old, ok := a.m[k]
	a.mu.RUnlock()
	if ok && old == alias {
		return
	}
	// The key's strings may point into a request's URL: keep copies.
	k = aliasKey{strings.Clone(k.book), strings.Clone(k.version)}
	alias.content = strings.Clone(alias.content)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil || len(a.m) >= maxContentAliases {
		a.m = make(map[aliasKey]contentAlias)
	}
	a.m[k] = alias
}

// contentKey is the content key of a book key, when its version is known.
func (a *contentAliases) contentKey(key cover.VariantKey) (cover.VariantKey, bool) {
	a.mu.RLock()
	alias, ok := a.m[aliasKey{key.BookID, key.Version}]
	a.mu.RUnlock()
	if !ok {
		return cover.VariantKey{}, false
	}
	key.BookID, key.Version, key.Content, key.Trim = "", "", alias.content, alias.trim
	return key, true
}
