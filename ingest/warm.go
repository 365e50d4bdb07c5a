package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/transform"
)

// Version returns the version token of an original's bytes: the first 48
// bits of its SHA-256 as lowercase hex, the prefix of its content key
// (cover.VersionOf of cover.ContentSum).
func Version(original []byte) string {
	return cover.VersionOf(cover.ContentSum(original))
}

// errNoVersionTime is a caller's bug: every warm names the time that orders it.
var errNoVersionTime = errors.New("no version time")

// Source fetches an original by URL.
type Source interface {
	Fetch(ctx context.Context, rawURL string) (Fetched, error)
}

// Checker validates an original before it is stored: its type, the size
// its decoder will allocate, and one whole decode, which also reports what
// the pixels look like (transform.Traits). transform.Renderer.Check is the
// service's.
type Checker interface {
	Check(ctx context.Context, original []byte) (transform.Checked, error)
}

// Warmer takes originals in: fetch (or a local file), validate (Checker),
// refuse placeholders (RefusePlaceholders), store under the book, and make
// the version current. Every entry point (POST /process, Kafka events,
// import, backfill) calls it. Nothing is stored and the manifest does not
// move unless the check passed and the original is not a placeholder, so a
// book keeps its last good cover when a later original is broken or a
// publisher's "no image" picture.
type Warmer struct {
	source       Source
	store        cache.Store
	manifests    *cache.Manifests
	check        Checker
	placeholders *PlaceholderRules // nil: every original that passes the check is a cover
	log          *slog.Logger
	now          func() time.Time
	stored       func(ctx context.Context, m cover.Manifest, original []byte)
	contents     *contents // originals stored by content (content.go)
}

// NewWarmer returns a Warmer. Its checks go through check, and are kept
// beside each content for the next book of the same bytes (content.go).
func NewWarmer(source Source, store cache.Store, manifests *cache.Manifests, check Checker, logger *slog.Logger) *Warmer {
	w := &Warmer{source: source, store: store, manifests: manifests, log: logger, now: time.Now, contents: newContents(store)}
	w.check = reusingCheck{next: check, c: w.contents}
	return w
}

// OnStored sets a function called after Store has made a new original the
// current cover (m is its manifest), before Store returns: cmd passes the
// Prerenderer's Start (background) or, for backfill, its Prerender. Call it
// before the Warmer is used.
func (w *Warmer) OnStored(f func(ctx context.Context, m cover.Manifest, original []byte)) {
	w.stored = f
}

// RefusePlaceholders makes the Warmer classify every checked original with
// p before storing it: a placeholder is refused with a *PlaceholderError.
// Call it before the Warmer is used.
func (w *Warmer) RefusePlaceholders(p *PlaceholderRules) { w.placeholders = p }

// Warm makes the original at imageURL the current cover of bookID as of at,
// the time that orders the book's covers (the event's enriched_at or record
// time, a job's arrival; see cover.Manifest.Supersedes): versions only move
// forward. When the book's cover is already at least as new as at nothing is
// fetched and the current manifest is the answer, so the caller reports the
// newest cover (a replayed or redriven older event is a no-op). Unless
// refresh is set, a book whose stored original came from the same URL is
// not downloaded again; a later at only moves its manifest's version time.
// A failure that says the source has no cover (a placeholder, 404 or 410)
// for a book that holds none carries the status the catalog may show
// (StatusOf).
func (w *Warmer) Warm(ctx context.Context, bookID, imageURL string, refresh bool, at time.Time) (cover.Manifest, error) {
	if err := cover.ValidBookID(bookID); err != nil {
		return cover.Manifest{}, fmt.Errorf("warm: %w", err)
	}
	if at.IsZero() {
		return cover.Manifest{}, fmt.Errorf("warm %s: %w", bookID, errNoVersionTime)
	}
	at = cover.OrderTime(at)
	m, err := w.manifests.Load(ctx, bookID)
	switch {
	case err == nil && !at.After(m.Order()):
		w.log.Debug("warm skipped: the book holds a cover at least as new", "book_id", bookID, "version", m.Version)
		return m, nil
	case err == nil && !refresh && m.SourceURL == imageURL:
		m.VersionTime = at
		return w.advance(ctx, m, "warm")
	case err != nil && !errors.Is(err, cache.ErrNotFound):
		return cover.Manifest{}, fmt.Errorf("warm: %w", err)
	}
	noCover := err != nil // not found
	f, err := w.source.Fetch(ctx, imageURL)
	if err != nil {
		if noCover {
			err = uncovered(err)
		}
		return cover.Manifest{}, fmt.Errorf("warm: %w", err)
	}
	return w.Store(ctx, bookID, imageURL, f.Body, at)
}

// Store validates an original's bytes and makes them the current cover of
// bookID as of at, unless the book already holds a cover at least as new:
// then the manifest does not move (the original may stay stored, unnamed)
// and the current manifest is the answer. sourceURL is recorded in the
// manifest, with what the check learnt of the pixels (dominant colour,
// blurhash). A placeholder is refused (a *PlaceholderError) before anything
// is stored.
func (w *Warmer) Store(ctx context.Context, bookID, sourceURL string, original []byte, at time.Time) (cover.Manifest, error) {
	if err := cover.ValidBookID(bookID); err != nil {
		return cover.Manifest{}, fmt.Errorf("store original: %w", err)
	}
	if at.IsZero() {
		return cover.Manifest{}, fmt.Errorf("store original %s: %w", bookID, errNoVersionTime)
	}
	info, err := w.check.Check(ctx, original)
	if err != nil {
		return cover.Manifest{}, fmt.Errorf("store original: %w", err)
	}
	if w.placeholders != nil {
		if err := w.placeholders.Classify(original, info); err != nil {
			w.log.Info("original refused as a placeholder", "book_id", bookID, "bytes", len(original), "error", err)
			if !w.holdsCover(ctx, bookID) {
				err = uncovered(err)
			}
			return cover.Manifest{}, fmt.Errorf("store original %s: %w", bookID, err)
		}
	}
	content := cover.ContentSum(original)
	version := cover.VersionOf(content)
	// Stored once by content (content.go): the trim box, the book's
	// references, the original unless it is there already.
	trim, err := w.trimBox(ctx, content, original)
	if err == nil {
		err = w.keep(ctx, bookID, content, original, info.ContentType)
	}
	if err != nil {
		return cover.Manifest{}, fmt.Errorf("store original: %w", err)
	}
	width, height := info.DisplaySize()
	next := cover.Manifest{
		BookID:      bookID,
		Version:     version,
		SourceURL:   sourceURL,
		ContentType: info.ContentType,
		Width:       width,
		Height:      height,
		Bytes:       int64(len(original)),
		UpdatedAt:   w.now().UTC().Truncate(time.Second),
		VersionTime: cover.OrderTime(at),
		Content:     content,
		Trim:        trim,
	}
	if info.Traits != nil {
		next.DominantColor, next.BlurHash = info.Traits.DominantColor, info.Traits.BlurHash
	}
	m, err := w.advance(ctx, next, "store original")
	if err == nil && m.Version == version {
		w.log.Info("original stored", "book_id", bookID, "version", version, "bytes", len(original), "width", width, "height", height, "trim", m.Trim.String())
		if w.stored != nil {
			w.stored(ctx, m, original)
		}
	}
	return m, err
}

// holdsCover reports whether the book holds a cover; a store that cannot
// tell counts as holding one, so that nothing marks a book without a cover
// on a guess.
func (w *Warmer) holdsCover(ctx context.Context, bookID string) bool {
	_, err := w.manifests.Load(ctx, bookID)
	return !errors.Is(err, cache.ErrNotFound)
}

// advance makes m current unless the book holds a newer cover, and returns
// the manifest that is current.
func (w *Warmer) advance(ctx context.Context, m cover.Manifest, op string) (cover.Manifest, error) {
	cur, err := w.manifests.Advance(ctx, m)
	if err != nil {
		return cover.Manifest{}, fmt.Errorf("%s: %w", op, err)
	}
	if !cur.VersionTime.Equal(m.VersionTime) || cur.Version != m.Version {
		w.log.Info("cover not moved back: the book holds a newer one", "book_id", m.BookID,
			"version", m.Version, "current_version", cur.Version)
	}
	return cur, nil
}
