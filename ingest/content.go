package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang/groupcache/lru"
	"golang.org/x/sync/singleflight"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/transform"
)

// Originals are stored once by content (cover/content.go): a book's new
// original is written to content/{sha256}/original unless it is there
// already, and the book's references to it (refs/{book}/{sha256},
// users/{sha256}/{book}) are written before its manifest names it. What
// the ingest check learnt of a content is kept beside it
// (content/{sha256}/info.json), so that a book warmed later with the same
// bytes is not decoded again: its check is the stored one, once this
// replica's header check of the bytes (transform.CheckOriginal under its
// own limits, no decode) agrees with it.

// HeaderChecker checks an original's header under this replica's limits
// without decoding it (transform.Renderer.CheckHeader): what a stored check
// is compared with before it is reused.
type HeaderChecker interface {
	CheckHeader(original []byte) (transform.Info, error)
}

// Trimmer finds the box of an original inside its uniform border
// (transform.Renderer.TrimBox); the zero Rect when there is none.
type Trimmer interface {
	TrimBox(ctx context.Context, original []byte, threshold float64) (cover.Rect, error)
}

// TrimConfig configures border trimming at ingest (TRIM_BORDERS,
// TRIM_THRESHOLD): when Enabled, the box of a newly stored original is
// found once, after the check, and recorded in its manifest (Trim), so
// every variant of that version is cropped to it on every replica whatever
// their setting later.
type TrimConfig struct {
	Enabled bool
	// Threshold is find_trim's: how far (0-255) from the border colour a
	// pixel counts as the cover.
	Threshold float64
}

// DefaultTrimConfig returns trimming off, at transform.DefaultTrimThreshold.
func DefaultTrimConfig() TrimConfig {
	return TrimConfig{Threshold: transform.DefaultTrimThreshold}
}

// Validate names every problem of the config.
func (c TrimConfig) Validate() error {
	if c.Threshold <= 0 || c.Threshold > 255 {
		return fmt.Errorf("TRIM_THRESHOLD %g: must be more than 0 and at most 255", c.Threshold)
	}
	return nil
}

// contentInfo is content/{sha256}/info.json: what the ingest check learnt
// of a content, and its trim box once one was looked for.
// The whole check is kept (Info and Traits), so that the placeholder
// classification, which runs on what Check returns, and the catalog's
// metadata are had for reused content from the stored Traits without a
// decode.
type contentInfo struct {
	Check transform.Checked `json:"check"`
	Trim  *trimFound        `json:"trim,omitempty"`
}

// trimFound is the trim box found at a threshold (the zero Rect: none).
type trimFound struct {
	Threshold float64    `json:"threshold"`
	Box       cover.Rect `json:"box"`
}

// contentRecord is a contentInfo as this process knows it: saved is false
// until the store holds this very record.
type contentRecord struct {
	info  contentInfo
	saved bool
}

// recentContents bounds the records kept in memory (a few hundred bytes
// each): the contents a backfill meets again within a short while.
const recentContents = 4096

// contents keeps the records of the contents this Warmer checked or read,
// and shares the work on one content between concurrent warms.
type contents struct {
	store   cache.Store
	header  HeaderChecker // nil: a stored check is never reused
	trimmer Trimmer       // nil: no trimming
	trim    TrimConfig
	sf      singleflight.Group

	mu     sync.Mutex
	recent *lru.Cache // content -> contentRecord
}

func newContents(store cache.Store) *contents {
	return &contents{store: store, trim: DefaultTrimConfig(), recent: lru.New(recentContents)}
}

func (c *contents) get(content string) (contentRecord, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.recent.Get(content)
	if !ok {
		return contentRecord{}, false
	}
	return v.(contentRecord), true
}

func (c *contents) put(content string, r contentRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recent.Add(content, r)
}

// Reuse makes the Warmer reuse a stored check of content it has seen
// before (info.json) once h's header check of the bytes agrees with it,
// instead of decoding them again. Call it before the Warmer is used.
func (w *Warmer) Reuse(h HeaderChecker) { w.contents.header = h }

// TrimBorders sets border trimming (TRIM_BORDERS): with cfg.Enabled the
// trim box of each newly stored original is found by t and recorded in its
// manifest. Call it before the Warmer is used.
func (w *Warmer) TrimBorders(t Trimmer, cfg TrimConfig) {
	w.contents.trimmer, w.contents.trim = t, cfg
}

// reusingCheck is the Warmer's Checker: the stored check of a content seen
// before, else the check it wraps (whose result is kept for the next time).
// Concurrent checks of one content share one.
//
// Store classifies what w.check.Check returns (RefusePlaceholders), and
// w.check is this, so a reused check is classified like a fresh one: a
// content refused as a placeholder is refused again for every book, in
// this process without a decode, since the check of a refused content is
// kept in memory, never written to the store.
type reusingCheck struct {
	next Checker
	c    *contents
}

// Check implements Checker.
func (rc reusingCheck) Check(ctx context.Context, original []byte) (transform.Checked, error) {
	content := cover.ContentSum(original)
	ch := rc.c.sf.DoChan("check "+content, func() (any, error) {
		// Shared: on ctx's values and deadline, not ended when this
		// caller gives up.
		sctx, cancel := context.WithoutCancel(ctx), context.CancelFunc(func() {})
		if d, ok := ctx.Deadline(); ok {
			sctx, cancel = context.WithDeadline(sctx, d)
		}
		defer cancel()
		return rc.check(sctx, content, original)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return transform.Checked{}, r.Err
		}
		return r.Val.(transform.Checked), nil
	case <-ctx.Done():
		return transform.Checked{}, fmt.Errorf("check original: %w", ctx.Err())
	}
}

// check is the shared check of one content.
func (rc reusingCheck) check(ctx context.Context, content string, original []byte) (transform.Checked, error) {
	if info, ok := rc.stored(ctx, content, original); ok {
		return info, nil
	}
	info, err := rc.next.Check(ctx, original)
	if err != nil {
		return transform.Checked{}, err
	}
	rec, _ := rc.c.get(content)
	rec.info.Check, rec.saved = info, false
	rc.c.put(content, rec)
	return info, nil
}

// stored returns the stored check of a content when this replica's header
// check of the bytes agrees with it.
func (rc reusingCheck) stored(ctx context.Context, content string, original []byte) (transform.Checked, bool) {
	if rc.c.header == nil {
		return transform.Checked{}, false
	}
	rec, ok := rc.c.get(content)
	if !ok {
		if rec, ok = rc.c.load(ctx, content); ok {
			rc.c.put(content, rec)
		}
	}
	if !ok || rec.info.Check.ContentType == "" {
		return transform.Checked{}, false
	}
	head, err := rc.c.header.CheckHeader(original)
	return rec.info.Check, err == nil && head == rec.info.Check.Info
}

// load reads a content's info.json; a missing, unreadable or undecodable
// record is none (the check runs again and writes it).
func (c *contents) load(ctx context.Context, content string) (contentRecord, bool) {
	obj, err := c.store.Get(ctx, cover.ContentInfoKey(content))
	if err != nil {
		return contentRecord{}, false
	}
	var info contentInfo
	if json.Unmarshal(obj.Data, &info) != nil {
		return contentRecord{}, false
	}
	return contentRecord{info: info, saved: true}, true
}

// trimBox is the trim box of a book's new original: with trimming on, the
// box found at the configured threshold (found once per content and kept in
// its record), else none. A book whose current manifest names the same
// bytes keeps the box it has when its manifest advances
// (cache.Manifests.Advance): a version's variants never change.
func (w *Warmer) trimBox(ctx context.Context, content string, original []byte) (cover.Rect, error) {
	c := w.contents
	if !c.trim.Enabled || c.trimmer == nil {
		return cover.Rect{}, nil
	}
	if rec, ok := c.get(content); ok && rec.info.Trim != nil && rec.info.Trim.Threshold == c.trim.Threshold {
		return rec.info.Trim.Box, nil
	}
	box, err := c.trimmer.TrimBox(ctx, original, c.trim.Threshold)
	if err != nil {
		return cover.Rect{}, fmt.Errorf("trim: %w", err)
	}
	rec, _ := c.get(content)
	rec.info.Trim, rec.saved = &trimFound{Threshold: c.trim.Threshold, Box: box}, false
	c.put(content, rec)
	return box, nil
}

// keep stores a book's original by content: the book's references first
// (refs/{book}/{sha256} and users/{sha256}/{book}, written at once), then
// the original, unless a Stat finds it stored already, then its record
// (info.json) when the store does not hold it yet. Books of one content
// kept at once share the Stat and the writes. The references come before the look for
// the original so that a purge of the content's last other book, which
// deletes only what no book uses, either sees this book or has deleted the
// original before the look (see cache.Purge).
func (w *Warmer) keep(ctx context.Context, bookID, content string, original []byte, contentType string) error {
	c := w.contents
	if err := c.reference(ctx, bookID, content); err != nil {
		return err
	}
	ch := c.sf.DoChan("keep "+content, func() (any, error) {
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), keepTimeout)
		defer cancel()
		return nil, c.keepContent(kctx, content, original, contentType)
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return fmt.Errorf("keep original: %w", ctx.Err())
	}
}

// reference writes a book's two references to a content, at once.
func (c *contents) reference(ctx context.Context, bookID, content string) error {
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, k := range []string{cover.RefKey(bookID, content), cover.UserKey(content, bookID)} {
		wg.Go(func() { errs[i] = c.store.Put(ctx, k, nil, "") })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reference %s: %w", content, err)
	}
	return nil
}

// keepTimeout bounds the shared store writes of one content: a Stat, the
// original and its record.
const keepTimeout = 30 * time.Second

func (c *contents) keepContent(ctx context.Context, content string, original []byte, contentType string) error {
	_, err := c.store.Stat(ctx, cover.ContentOriginalKey(content))
	switch {
	case errors.Is(err, cache.ErrNotFound):
		if err := c.store.Put(ctx, cover.ContentOriginalKey(content), original, contentType); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	rec, ok := c.get(content)
	if !ok || rec.saved || rec.info.Check.ContentType == "" {
		return nil
	}
	data, err := json.Marshal(rec.info)
	if err == nil {
		err = c.store.Put(ctx, cover.ContentInfoKey(content), data, "application/json")
	}
	if err != nil {
		return fmt.Errorf("store check of %s: %w", content, err)
	}
	rec.saved = true
	c.put(content, rec)
	return nil
}
