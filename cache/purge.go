package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/bookcovers/image-worker/cover"
)

// PurgeResult reports what a purge removed.
type PurgeResult struct {
	BookID  string
	Deleted int
	// Variants are the variants the book's URLs were served from, for CDN
	// purge lists: its own (old layout) and every stored variant of each
	// content it referenced, whether or not another book still shares it.
	Variants []cover.VariantKey
}

// Purge removes a book and forgets it in this replica's manifest cache
// (other replicas stop serving it within MANIFEST_TTL), in this order:
//
//  1. its manifest, so no replica resolves a version whose objects are
//     going away;
//  2. the per-book objects of covers stored before content keys
//     (originals, variants, metadata under the book);
//  3. for each content the book references (refs/{book}/): the book's
//     user marker, then, if no other book uses the content any more, the
//     content's objects (purgeContent); the reference itself last, so a
//     purge cut short can be run again and still finds the content.
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
			res.addVariant(k)
		}
	}
	refs, err := store.List(ctx, cover.BookRefsPrefix(bookID))
	if err != nil {
		return res, fmt.Errorf("purge %s: %w", bookID, err)
	}
	for _, ref := range refs {
		content := strings.TrimPrefix(ref, cover.BookRefsPrefix(bookID))
		if cover.ValidContent(content) == nil {
			if err := purgeContent(ctx, store, bookID, content, &res); err != nil {
				return res, fmt.Errorf("purge %s: %w", bookID, err)
			}
		}
		if err := store.Delete(ctx, ref); err != nil {
			return res, fmt.Errorf("purge %s: %w", bookID, err)
		}
		res.Deleted++
	}
	manifests.Forget(bookID)
	return res, nil
}

// addVariant lists a stored object that is a variant.
func (res *PurgeResult) addVariant(key string) {
	if v, err := cover.ParseVariantStoreKey(key); err == nil {
		res.Variants = append(res.Variants, v)
	}
}

// purgeContent drops bookID's use of a content, and the content's objects
// when no book uses it any more.
//
// A warm of another book may store the same content meanwhile. A warm
// writes its user marker before it looks for the original (ingest's
// Warmer.Store), and this deletes only after a listing of the users found
// none, reads the original first, and lists the users again after the
// deletes. A warm that puts its marker down after the first listing does so
// either before the second one, which sees it, and the original is put
// back here; or after it, and then its own look for the original comes
// after the deletes and it uploads the original again. Its variants and
// check are rendered or computed again on demand. What remains is a window
// of a few store round trips in which such a book's manifest may name an
// original that is being put back (its first renders fail).
func purgeContent(ctx context.Context, store Store, bookID, content string, res *PurgeResult) error {
	if err := store.Delete(ctx, cover.UserKey(content, bookID)); err != nil {
		return err
	}
	res.Deleted++
	keys, err := store.List(ctx, cover.ContentPrefix(content))
	if err != nil {
		return err
	}
	for _, k := range keys {
		res.addVariant(k)
	}
	if used, err := hasUsers(ctx, store, content); err != nil || used {
		return err
	}
	original, err := store.Get(ctx, cover.ContentOriginalKey(content))
	found := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	for _, k := range keys { // the original last
		if k == cover.ContentOriginalKey(content) {
			continue
		}
		if err := store.Delete(ctx, k); err != nil {
			return err
		}
		res.Deleted++
	}
	if !found {
		return nil
	}
	if err := store.Delete(ctx, cover.ContentOriginalKey(content)); err != nil {
		return err
	}
	res.Deleted++
	if used, err := hasUsers(ctx, store, content); err != nil || !used {
		return err
	}
	// A warm of another book took the content up while it was deleted.
	res.Deleted--
	return store.Put(ctx, cover.ContentOriginalKey(content), original.Data, original.ContentType)
}

// hasUsers reports whether any book uses a content.
func hasUsers(ctx context.Context, store Store, content string) (bool, error) {
	users, err := store.ListPage(ctx, cover.ContentUsersPrefix(content), "", 1)
	return len(users) > 0, err
}
