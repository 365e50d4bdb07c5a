package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/transform"
)

// versionHexLen is the length of a version token: the first 48 bits of the
// SHA-256 of the original, as lowercase hex.
const versionHexLen = 12

// Version returns the version token of an original's bytes.
func Version(original []byte) string {
	sum := sha256.Sum256(original)
	return hex.EncodeToString(sum[:])[:versionHexLen]
}

// Source fetches an original by URL.
type Source interface {
	Fetch(ctx context.Context, rawURL string) (Fetched, error)
}

// Checker validates an original before it is stored: its type, the size
// its decoder will allocate, and one whole decode. transform.Renderer.Check
// is the service's.
type Checker interface {
	Check(ctx context.Context, original []byte) (transform.Info, error)
}

// Warmer takes originals in: fetch (or a local file), validate (Checker),
// store under the book, and make the version current. Every entry point
// (POST /process, Kafka events, import, backfill) calls it. Nothing is
// stored and the manifest does not move unless the check passed, so a book
// keeps its last good cover when a later original is broken.
type Warmer struct {
	source    Source
	store     cache.Store
	manifests *cache.Manifests
	check     Checker
	log       *slog.Logger
	now       func() time.Time
}

// NewWarmer returns a Warmer.
func NewWarmer(source Source, store cache.Store, manifests *cache.Manifests, check Checker, logger *slog.Logger) *Warmer {
	return &Warmer{source: source, store: store, manifests: manifests, check: check, log: logger, now: time.Now}
}

// Warm makes the original at imageURL the current cover of bookID. Unless
// refresh is set, a book whose stored original came from the same URL is not
// downloaded again.
func (w *Warmer) Warm(ctx context.Context, bookID, imageURL string, refresh bool) (cache.Manifest, error) {
	if err := cache.ValidBookID(bookID); err != nil {
		return cache.Manifest{}, fmt.Errorf("warm: %w", err)
	}
	if !refresh {
		m, err := w.manifests.Load(ctx, bookID)
		switch {
		case err == nil && m.SourceURL == imageURL:
			return m, nil
		case err != nil && !errors.Is(err, cache.ErrNotFound):
			return cache.Manifest{}, fmt.Errorf("warm: %w", err)
		}
	}
	f, err := w.source.Fetch(ctx, imageURL)
	if err != nil {
		return cache.Manifest{}, fmt.Errorf("warm: %w", err)
	}
	return w.Store(ctx, bookID, imageURL, f.Body)
}

// Store validates an original's bytes and makes them the current cover of
// bookID. sourceURL is recorded in the manifest.
func (w *Warmer) Store(ctx context.Context, bookID, sourceURL string, original []byte) (cache.Manifest, error) {
	if err := cache.ValidBookID(bookID); err != nil {
		return cache.Manifest{}, fmt.Errorf("store original: %w", err)
	}
	info, err := w.check.Check(ctx, original)
	if err != nil {
		return cache.Manifest{}, fmt.Errorf("store original: %w", err)
	}
	version := Version(original)
	if err := w.store.Put(ctx, cache.OriginalKey(bookID, version), original, info.ContentType); err != nil {
		return cache.Manifest{}, fmt.Errorf("store original: %w", err)
	}
	width, height := info.DisplaySize()
	m := cache.Manifest{
		BookID:      bookID,
		Version:     version,
		SourceURL:   sourceURL,
		ContentType: info.ContentType,
		Width:       width,
		Height:      height,
		Bytes:       int64(len(original)),
		UpdatedAt:   w.now().UTC().Truncate(time.Second),
	}
	if err := w.manifests.Put(ctx, m); err != nil {
		return cache.Manifest{}, fmt.Errorf("store original: %w", err)
	}
	w.log.Info("original stored", "book_id", bookID, "version", version, "bytes", len(original), "width", width, "height", height)
	return m, nil
}
