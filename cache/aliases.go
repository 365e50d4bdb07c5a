package cache

import (
	"sync"
	"sync/atomic"

	"github.com/bookcovers/image-worker/cover"
)

// maxContentAliases bounds the memory of which content a book's version is;
// past it the memory is reset (it only serves Cached while the store is down).
const maxContentAliases = 100_000

// contentAliases remembers, for each book version this replica served by a
// content key, that content and its trim box: a versioned URL names the
// book and the version, not the content, and when the manifest cannot be
// read (the store is down) this is how the variant in memory is found.
// Reads outnumber writes by far (a version is remembered once), so a
// sync.Map keeps the hot path off a lock.
type contentAliases struct {
	m     sync.Map // "book/version" -> contentAlias
	count atomic.Int64
}

type contentAlias struct {
	content string
	trim    cover.Rect
}

// remember records the content and trim box of key's book and version.
func (a *contentAliases) remember(key cover.VariantKey) {
	if key.BookID == "" || key.Version == "" {
		return
	}
	name, alias := key.BookID+"/"+key.Version, contentAlias{key.Content, key.Trim}
	if old, ok := a.m.Load(name); ok && old.(contentAlias) == alias {
		return
	}
	if a.count.Load() >= maxContentAliases {
		a.m.Clear()
		a.count.Store(0)
	}
	if _, loaded := a.m.Swap(name, alias); !loaded {
		a.count.Add(1)
	}
}

// contentKey is the content key of a book key, when its version is known.
func (a *contentAliases) contentKey(key cover.VariantKey) (cover.VariantKey, bool) {
	v, ok := a.m.Load(key.BookID + "/" + key.Version)
	if !ok {
		return cover.VariantKey{}, false
	}
	alias := v.(contentAlias)
	key.BookID, key.Version, key.Content, key.Trim = "", "", alias.content, alias.trim
	return key, true
}
