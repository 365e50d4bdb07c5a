package proxy

import (
	"fmt"

	"github.com/bookcovers/image-worker/cover"
)

// CheckVariantKey reports whether the public cover path could produce the
// variant key: the book id grammar and a version of the v parameter's
// grammar (or, for a content key, a content hash and a trim box inside
// what an original can be), a size that parseSize accepts (canonical
// decimal, MinDimension..MaxDimension for W and H) and a format it serves.
// The groupcache peer handler refuses every other key (cmd wires this
// check into cache.Peers), so the internal port cannot render what a
// signed public URL could not.
func (c Config) CheckVariantKey(k cover.VariantKey) error {
	if err := c.checkKeyOriginal(k); err != nil {
		return err
	}
	if f, err := cover.ParseFormat(k.Format); err != nil || string(f) != k.Format {
		return fmt.Errorf("check variant key: format %q: %w", k.Format, errBadFormat)
	}
	sz, err := c.parseSize(k.Size())
	if err != nil {
		return fmt.Errorf("check variant key: %w", err)
	}
	if sz != (cover.Size{Width: k.Width, Height: k.Height, Fit: k.Fit}) {
		return fmt.Errorf("check variant key: size %s: %w", k.Size(), errBadSize)
	}
	return nil
}

// maxTrimEdge bounds the edges of a trim box a peer may name: no original
// the service stores is wider or higher (transform.MaxSide is 65535; the
// proxy does not import transform).
const maxTrimEdge = 1 << 16

// checkKeyOriginal checks what names the original of a variant key: a
// content and trim box, or a book and version.
func (c Config) checkKeyOriginal(k cover.VariantKey) error {
	if k.Content != "" {
		if err := cover.ValidContent(k.Content); err != nil {
			return fmt.Errorf("check variant key: %w", err)
		}
		if !k.Trim.IsZero() && !k.Trim.Within(maxTrimEdge, maxTrimEdge) {
			return fmt.Errorf("check variant key: trim box %s: %w", k.Trim, errBadSize)
		}
		return nil
	}
	if err := cover.ValidBookID(k.BookID); err != nil {
		return fmt.Errorf("check variant key: %w", err)
	}
	if k.Version == "" || len(k.Version) > maxVersionLength || !isToken(k.Version) {
		return fmt.Errorf("check variant key: version: %w", errBadQuery)
	}
	return nil
}
