package cache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/bookcovers/image-worker/cover"
	"github.com/golang/groupcache"
)

// MaxPlaceholderEntries is the most palette entries a placeholder cache
// spreads books over: at most this many placeholders are rendered per size
// and format, whatever the number of books without a cover.
const MaxPlaceholderEntries = 16

// PlaceholderKey names one shared placeholder image: a palette entry, a size
// and a format. It names no book: every book whose id hashes to Entry shares
// the image, and its pixels never change.
type PlaceholderKey struct {
	Entry  int    // palette entry, 0..entries-1
	Width  int    // target width
	Height int    // 0 keeps the placeholder's 2:3 shape; otherwise the box height
	Format string // "webp" or "avif"
}

// String is the groupcache key: "p{entry}/{size}.{format}". It lives in its
// own groupcache group, so it can never name a real variant.
func (k PlaceholderKey) String() string {
	return "p" + strconv.Itoa(k.Entry) + "/" + cover.VariantKey{Width: k.Width, Height: k.Height}.Size() + "." + k.Format
}

// ParsePlaceholderKey is the inverse of PlaceholderKey.String.
func ParsePlaceholderKey(s string) (PlaceholderKey, error) {
	entry, rest, ok := strings.Cut(s, "/")
	if !ok || !strings.HasPrefix(entry, "p") {
		return PlaceholderKey{}, fmt.Errorf("parse placeholder key %q: %w", s, ErrInvalidKey)
	}
	// The size and format parse like a variant's, under a fixed pseudo-book.
	vk, err := cover.ParseVariantKey("p/p/" + rest)
	if err != nil {
		return PlaceholderKey{}, fmt.Errorf("parse placeholder key %q: %w", s, ErrInvalidKey)
	}
	key := PlaceholderKey{Width: vk.Width, Height: vk.Height, Format: vk.Format}
	if key.Entry, err = strconv.Atoi(entry[1:]); err != nil || key.Entry < 0 || key.String() != s {
		return PlaceholderKey{}, fmt.Errorf("parse placeholder key %q: %w", s, ErrInvalidKey)
	}
	return key, nil
}

// PlaceholderEntry picks a book's palette entry among entries: the FNV-1a
// hash of its id, so one book always gets the same colour on every replica.
// (hash/fnv's New32a, inlined: it allocates on every request otherwise.)
func PlaceholderEntry(bookID string, entries int) int {
	h := uint32(2166136261)
	for i := 0; i < len(bookID); i++ {
		h ^= uint32(bookID[i])
		h *= 16777619
	}
	return int(h % uint32(entries))
}

// PlaceholderFillFunc renders the placeholder of a key.
type PlaceholderFillFunc func(ctx context.Context, key PlaceholderKey) ([]byte, error)

// PlaceholdersConfig configures the placeholder cache.
type PlaceholdersConfig struct {
	GroupName   string        // groupcache group name; unique per process, the same on every replica
	CacheBytes  int64         // groupcache memory, with a hot index of a quarter of it in front
	FillTimeout time.Duration // budget of one shared render
	Entries     int           // palette entries books are spread over: 1..MaxPlaceholderEntries
}

// DefaultPlaceholdersConfig returns the defaults: 8 MiB (a placeholder is a
// flat image of a few KB, so that holds every palette entry at dozens of
// sizes in both formats), 30s renders, 16 entries.
func DefaultPlaceholdersConfig() PlaceholdersConfig {
	return PlaceholdersConfig{GroupName: "placeholders", CacheBytes: 8 << 20, FillTimeout: 30 * time.Second, Entries: MaxPlaceholderEntries}
}

// Validate names every problem of the config.
func (c PlaceholdersConfig) Validate() error {
	var errs []error
	if c.GroupName == "" {
		errs = append(errs, errors.New("placeholders: group name is empty"))
	}
	if c.CacheBytes < 4 {
		errs = append(errs, errors.New("placeholders: cache bytes must be at least 4"))
	}
	if c.FillTimeout <= 0 {
		errs = append(errs, errors.New("placeholders: fill timeout must be positive"))
	}
	if c.Entries < 1 || c.Entries > MaxPlaceholderEntries {
		errs = append(errs, fmt.Errorf("placeholders: entries %d not in 1..%d", c.Entries, MaxPlaceholderEntries))
	}
	return errors.Join(errs...)
}

// Placeholders caches the placeholders of books without a cover as shared
// variants: a book is mapped to one of Entries palette entries, and each
// (entry, size, format) is rendered once per cluster (groupcache
// deduplicates concurrent loads, across peers too) and then served from
// memory. Placeholders are never written to the store: one costs a single
// small render after a restart, and the store holds only real covers.
type Placeholders struct {
	group   groupSlot // handed over by Use
	bytes   int64     // of the group: CacheBytes less the hot index
	hot     *hotIndex[PlaceholderKey]
	fill    PlaceholderFillFunc
	entries int
	timeout time.Duration

	set                      *metrics.Set
	hits, renders, renderErr *metrics.Counter
	panics                   *metrics.Counter
}

// NewPlaceholders builds the placeholder cache without its groupcache
// group: it serves once it is handed one (Use), created with
// cfg.GroupName, GroupBytes and Getter. Until then a Placeholder fails with
// ErrNoGroup.
func NewPlaceholders(cfg PlaceholdersConfig, fill PlaceholderFillFunc) (*Placeholders, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	set := metrics.NewSet()
	p := &Placeholders{
		group:     groupSlot{name: cfg.GroupName},
		bytes:     cfg.CacheBytes - cfg.CacheBytes/4,
		hot:       newHotIndex[PlaceholderKey](cfg.CacheBytes / 4),
		fill:      fill,
		entries:   cfg.Entries,
		timeout:   cfg.FillTimeout,
		set:       set,
		hits:      set.NewCounter(`covers_cache_placeholder_lookups_total{result="hit"}`),
		renders:   set.NewCounter(`covers_cache_placeholder_lookups_total{result="render"}`),
		renderErr: set.NewCounter(`covers_cache_placeholder_lookups_total{result="error"}`),
		panics:    panicCounter(set, "placeholders"),
	}
	// The hot index shares its bytes with groupcache: not counted twice.
	set.NewGauge(`covers_cache_placeholder_memory_bytes`, func() float64 { return float64(p.group.stats().Bytes) })
	return p, nil
}

// Getter is the groupcache getter of the placeholder group: a render.
func (p *Placeholders) Getter() groupcache.Getter { return groupcache.GetterFunc(p.load) }

// GroupBytes is the size of the placeholder group: CacheBytes less the hot
// index in front of it (a quarter).
func (p *Placeholders) GroupBytes() int64 { return p.bytes }

// Use hands the cache its groupcache group, once, before it serves: the
// group cmd created with the config's GroupName, GroupBytes and Getter. It
// refuses nil, a second group and a group of another name.
func (p *Placeholders) Use(g Group) error { return p.group.use(g) }

// Metrics returns the placeholder cache metrics.
func (p *Placeholders) Metrics() *metrics.Set { return p.set }

// Key returns the placeholder key of a book at a size and format.
func (p *Placeholders) Key(bookID string, width, height int, format string) PlaceholderKey {
	return PlaceholderKey{Entry: PlaceholderEntry(bookID, p.entries), Width: width, Height: height, Format: format}
}

// Placeholder returns the placeholder of a book without a cover, with its
// tag; the bytes are shared with the cache and must not be modified. A hit
// in the hot index returns at once; otherwise the shared load runs detached
// from ctx with its own timeout, and this caller stops waiting when ctx
// ends without failing the other waiters.
func (p *Placeholders) Placeholder(ctx context.Context, bookID string, width, height int, format string) (Variant, error) {
	key := p.Key(bookID, width, height, format)
	if vr, ok := p.hot.get(key); ok {
		p.hits.Inc()
		return vr, nil
	}
	group, err := p.group.get()
	if err != nil {
		return Variant{}, fmt.Errorf("get placeholder: %w", err)
	}
	mark := &loadMark{}
	lctx := context.WithValue(context.WithoutCancel(ctx), loadMarkKey{}, mark)
	// A placeholder never reads the store: a waiter's store budget does not
	// end its wait, only ctx does.
	b, err := sharedGet(ctx, lctx, p.timeout, group, key.String(), p.panics, "get placeholder ", neverReading)
	if err != nil {
		return Variant{}, fmt.Errorf("get placeholder: %w", err)
	}
	if !mark.loaded {
		p.hits.Inc() // in groupcache, here or on a peer, or rendered for another caller
	}
	vr := Variant{Bytes: b, Tag: Tag(b)}
	p.hot.add(key, vr)
	return vr, nil
}

func neverReading() bool { return false }

// load is the groupcache getter: a render, kept in memory only.
func (p *Placeholders) load(ctx context.Context, skey string, dest groupcache.Sink) (err error) {
	defer recoverTo(&err, p.panics, "fill placeholder "+skey)
	markLoaded(ctx)
	key, err := ParsePlaceholderKey(skey)
	if err != nil {
		return err
	}
	if key.Entry >= p.entries {
		return fmt.Errorf("load placeholder %q: entry over %d: %w", skey, p.entries, ErrInvalidKey)
	}
	data, err := p.fill(ctx, key)
	if err != nil {
		p.renderErr.Inc()
		return fmt.Errorf("fill placeholder: %w", err)
	}
	p.renders.Inc()
	return dest.SetBytes(data)
}
