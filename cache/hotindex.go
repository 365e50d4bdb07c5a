package cache

import "sync"

// hotIndex maps recently served keys to their variants, sharing the bytes
// with groupcache. It is bounded in bytes; when full, entries picked by map
// iteration order (effectively at random) make room. Keys are immutable
// (a version is a content hash; a placeholder's pixels depend only on its
// key), so an entry is never stale.
type hotIndex[K comparable] struct {
	mu    sync.RWMutex
	m     map[K]Variant
	bytes int64
	limit int64
}

func newHotIndex[K comparable](limit int64) *hotIndex[K] {
	return &hotIndex[K]{m: make(map[K]Variant), limit: limit}
}

func (h *hotIndex[K]) get(k K) (Variant, bool) {
	h.mu.RLock()
	v, ok := h.m[k]
	h.mu.RUnlock()
	return v, ok
}

func (h *hotIndex[K]) add(k K, v Variant) {
	n := int64(len(v.Bytes))
	if n > h.limit/4 {
		return // one huge variant must not flush the index
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.m[k]; ok {
		return
	}
	for ek, ev := range h.m {
		if h.bytes+n <= h.limit {
			break
		}
		delete(h.m, ek)
		h.bytes -= int64(len(ev.Bytes))
	}
	h.m[k] = v
	h.bytes += n
}

func (h *hotIndex[K]) size() int64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.bytes
}
