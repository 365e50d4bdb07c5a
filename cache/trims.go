package cache

import (
	"strings"
	"sync"

	"github.com/bookcovers/image-worker/cover"
)

// maxVersionTrims bounds the memory of trim boxes; past it the memory is
// reset (it only serves Cached while the store is down).
const maxVersionTrims = 100_000

// versionTrims remembers the trim box of each trimmed book version this
// replica loaded a variant of: a versioned URL names the book and the
// version, not the box, and the hot index holds a trimmed variant under a
// key with its box, so when the manifest cannot be read (the store is
// down) this is how the variant in memory is found. A load remembers (a
// hit never asks), and a version is written once.
type versionTrims struct {
	mu sync.RWMutex
	m  map[versionKey]cover.Rect
}

type versionKey struct{ book, version string }

// remember records the trim box of key's book and version, when it has one.
func (t *versionTrims) remember(key cover.VariantKey) {
	if key.BookID == "" || key.Version == "" || key.Trim == (cover.Rect{}) {
		return
	}
	k := versionKey{key.BookID, key.Version}
	t.mu.RLock()
	old, ok := t.m[k]
	t.mu.RUnlock()
	if ok && old == key.Trim {
		return
	}
	// The key's strings may point into a request's URL: keep copies.
	k = versionKey{strings.Clone(k.book), strings.Clone(k.version)}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil || len(t.m) >= maxVersionTrims {
		t.m = make(map[versionKey]cover.Rect)
	}
	t.m[k] = key.Trim
}

// of is the trim box a book key's version was served with, when known.
func (t *versionTrims) of(key cover.VariantKey) (cover.Rect, bool) {
	t.mu.RLock()
	trim, ok := t.m[versionKey{key.BookID, key.Version}]
	t.mu.RUnlock()
	return trim, ok
}
