package cache

import (
	"context"
	"fmt"
	"strings"

	"github.com/bookcovers/image-worker/cover"
)

// PurgeResult reports what a purge removed.
type PurgeResult struct {
	BookID   string
	Deleted  int
	Variants []cover.VariantKey // the variants that were stored, for CDN purge lists
}

// Purge removes every object of a book (manifest first, so no replica
// resolves a version whose original is going away, then originals, variants
// and metadata) and forgets it in this replica's manifest cache. Other
// replicas stop serving it within MANIFEST_TTL.
func Purge(ctx context.Context, store Store, manifests *Manifests, bookID string) (PurgeResult, error) {
	if err := cover.ValidBookID(bookID); err != nil {
		return PurgeResult{}, fmt.Errorf("purge: %w", err)
	}
	res := PurgeResult{BookID: bookID}
	if err := store.Delete(ctx, cover.ManifestKey(bookID)); err != nil {
		return res, fmt.Errorf("purge %s: %w", bookID, err)
	}
	manifests.Forget(bookID)
	res.Deleted++
	for _, prefix := range cover.BookPrefixes(bookID)[:3] {
		keys, err := store.List(ctx, prefix)
		if err != nil {
			return res, fmt.Errorf("purge %s: %w", bookID, err)
		}
		for _, k := range keys {
			if err := store.Delete(ctx, k); err != nil {
				return res, fmt.Errorf("purge %s: %w", bookID, err)
			}
			res.Deleted++
			if v, err := cover.ParseVariantKey(strings.TrimPrefix(k, cover.VariantsPrefix())); err == nil && strings.HasPrefix(k, cover.VariantsPrefix()) {
				res.Variants = append(res.Variants, v)
			}
		}
	}
	manifests.Forget(bookID)
	return res, nil
}
