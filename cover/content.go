package cover

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Originals stored once by content. A manifest that records its original's
// Content (the full SHA-256 of its bytes) names objects shared by every
// book whose cover is those bytes:
//
//	content/{sha256}/original            the original, stored once
//	content/{sha256}/info.json           what the ingest check learnt of it (reused, not decoded again)
//	content/{sha256}/variants/{size}.{format}         its variants
//	content/{sha256}/trim-{L}-{T}-{W}x{H}/{size}.{format}  its variants cropped to a trim box first
//	refs/{book_id}/{sha256}              the book references the content
//	users/{sha256}/{book_id}             the same reference, listed by content
//
// The per-book Version (the first 12 hex of the same hash) stays the public
// token of URLs, ETags and v=; 48 bits name a book's covers well enough but
// would collide across a large catalog, so shared objects use all 256.
// Manifests written before Content existed keep their per-book keys
// (OriginalKey, variants/{book}/{version}/).
const (
	contentPrefix   = "content/"
	refsPrefix      = "refs/"
	usersPrefix     = "users/"
	contentVariants = "variants/"
	trimDirPrefix   = "trim-"
)

// ContentKeyMark starts the groupcache key of a content variant
// ("@{sha256}/320.webp"). It is outside the book id grammar, so a content
// key can never be a book's key.
const ContentKeyMark = "@"

// ContentLength is the length of a content key: a SHA-256 as lowercase hex.
const ContentLength = 2 * sha256.Size

// VersionLength is the length of a version token: the first 48 bits of the
// content key.
const VersionLength = 12

// ErrInvalidContent reports a string that is not a content key.
var ErrInvalidContent = errors.New("cover: invalid content key")

// ContentSum is the content key of an original's bytes: their SHA-256 as
// lowercase hex.
func ContentSum(original []byte) string {
	sum := sha256.Sum256(original)
	return hex.EncodeToString(sum[:])
}

// VersionOf is the version token of a content key.
func VersionOf(content string) string { return content[:min(len(content), VersionLength)] }

// ValidContent checks a content key: 64 lowercase hex digits.
func ValidContent(c string) error {
	if len(c) != ContentLength {
		return fmt.Errorf("content key of %d characters, want %d: %w", len(c), ContentLength, ErrInvalidContent)
	}
	for i := 0; i < len(c); i++ {
		if ch := c[i]; !(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f') {
			return fmt.Errorf("content key: byte %d is not lowercase hex: %w", i, ErrInvalidContent)
		}
	}
	return nil
}

// ContentsPrefix is the prefix of every object stored by content.
func ContentsPrefix() string { return contentPrefix }

// ContentPrefix is the prefix of one content's objects: its original, its
// info and its variants.
func ContentPrefix(content string) string { return contentPrefix + content + "/" }

// ContentOriginalKey is where an original is stored by its content.
func ContentOriginalKey(content string) string { return contentPrefix + content + "/original" }

// ContentInfoKey is where the ingest check's result of a content is kept.
func ContentInfoKey(content string) string { return contentPrefix + content + "/info.json" }

// RefsPrefix is the prefix of every book's references.
func RefsPrefix() string { return refsPrefix }

// BookRefsPrefix is the prefix of one book's references to contents.
func BookRefsPrefix(bookID string) string { return refsPrefix + bookID + "/" }

// RefKey marks that a book references a content.
func RefKey(bookID, content string) string { return refsPrefix + bookID + "/" + content }

// UsersPrefix is the prefix of every content's users.
func UsersPrefix() string { return usersPrefix }

// ContentUsersPrefix is the prefix of the books that reference a content.
func ContentUsersPrefix(content string) string { return usersPrefix + content + "/" }

// UserKey marks, listed by content, that a book references it.
func UserKey(content, bookID string) string { return usersPrefix + content + "/" + bookID }

// trimSegment spells a trim box in keys: "trim-{L}-{T}-{W}x{H}".
func trimSegment(r Rect) string {
	return fmt.Sprintf("%s%d-%d-%dx%d", trimDirPrefix, r.Left, r.Top, r.Width, r.Height)
}

// parseTrimSegment is the inverse of trimSegment; only the canonical
// spelling of a non-empty box is accepted.
func parseTrimSegment(s string) (Rect, bool) {
	var r Rect
	if _, err := fmt.Sscanf(s, trimDirPrefix+"%d-%d-%dx%d", &r.Left, &r.Top, &r.Width, &r.Height); err != nil {
		return Rect{}, false
	}
	if r.Left < 0 || r.Top < 0 || r.Width <= 0 || r.Height <= 0 || trimSegment(r) != s {
		return Rect{}, false
	}
	return r, true
}

// OriginalKey is where m's original is stored: by content, or under the
// book for a manifest written before Content existed.
func (m Manifest) OriginalKey() string {
	if m.Content != "" {
		return ContentOriginalKey(m.Content)
	}
	return OriginalKey(m.BookID, m.Version)
}

// TrimBox is the box of the upright original every render of m crops to
// first: Trim, which only a manifest stored by content has; zero for none.
func (m Manifest) TrimBox() Rect {
	if m.Content == "" {
		return Rect{}
	}
	return m.Trim
}

// RenderSize is the size renders of m start from: its trim box, else the
// upright original.
func (m Manifest) RenderSize() (width, height int) {
	if box := m.TrimBox(); !box.IsZero() {
		return box.Width, box.Height
	}
	return m.Width, m.Height
}

// Variant is the key of a variant of m's cover: the requested size clamped
// to what the cover can give (Clamp of RenderSize: renders never enlarge,
// so every larger request shares the key of the size it renders at), keyed
// by content and trim box when m records its Content, else by book and
// version. A content key keeps the book and version only to say who asked.
func (m Manifest) Variant(width, height int, fit bool, format string) VariantKey {
	sw, sh := m.RenderSize()
	w, h := Clamp(sw, sh, width, height, fit)
	k := VariantKey{BookID: m.BookID, Version: m.Version, Width: w, Height: h, Fit: fit, Format: format}
	if m.Content != "" {
		k.Content, k.Trim = m.Content, m.TrimBox()
	}
	return k
}

// ParseVariantStoreKey is the inverse of VariantKey.StoreKey: the variant a
// stored object is, by book (variants/...) or by content (content/...); a
// content key comes back Shared.
func ParseVariantStoreKey(key string) (VariantKey, error) {
	if rest, ok := strings.CutPrefix(key, variantsPrefix); ok {
		return ParseVariantKey(rest)
	}
	rest, ok := strings.CutPrefix(key, contentPrefix)
	content, rest, found := strings.Cut(rest, "/")
	if !ok || !found {
		return VariantKey{}, fmt.Errorf("parse variant store key %q: %w", key, ErrInvalidVariantKey)
	}
	if name, ok := strings.CutPrefix(rest, contentVariants); ok {
		rest = name
	}
	k, err := ParseVariantKey(ContentKeyMark + content + "/" + rest)
	if err == nil && k.StoreKey() != key {
		err = fmt.Errorf("parse variant store key %q: not canonical: %w", key, ErrInvalidVariantKey)
	}
	return k, err
}
