package cover

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalidVariantKey reports a string that is not a canonical VariantKey.
var ErrInvalidVariantKey = errors.New("cover: invalid variant key")

// VariantKey names one rendered variant. It is immutable: a version is the
// content hash of the original, so the bytes behind a key never change. Its
// size is the size the render gives, already clamped to the original by the
// caller (renders never enlarge), so requests with one output share one key.
//
// A content key (Content set, from a manifest that records it: Manifest.Variant)
// names the variant of those bytes whichever book asks: its spelling
// ("@{sha256}/320.webp", with the trim box "@{sha256}/trim-L-T-WxH/320.webp")
// holds everything a peer needs to render it, and BookID and Version only
// say which book asked (logs, the variant cache's memory of a book's
// version); String, StoreKey and Shared leave them out.
type VariantKey struct {
	BookID  string
	Version string
	// Content is the full SHA-256 of the original (Manifest.Content); empty
	// for a book key of a manifest written before content keys.
	Content string
	// Trim is the box of the upright original the variant is cropped to
	// first (Manifest.Trim); content keys only.
	Trim   Rect
	Width  int // target width
	Height int // 0 keeps the aspect ratio; otherwise the box height
	// Fit (a box only) keeps the whole cover inside the box and pads it
	// with the cover's dominant colour; false fills the box (smart crop).
	Fit    bool
	Format string // a Format: "webp", "avif", "jpg" (Formats)
}

// FitSuffix ends the size of a fit box: "200x300f" (SizeString).
const FitSuffix = "f"

// Size is the canonical size: "320" (width), "320x480" (box, filled) or
// "320x480f" (box, fit). Keys without Fit are spelled as they always were.
func (k VariantKey) Size() string { return SizeString(k.Width, k.Height, k.Fit) }

// SizeString spells a size as URLs and keys do: "W", "WxH" or "WxHf"
// (fit applies to a box only).
func SizeString(width, height int, fit bool) string {
	if height == 0 {
		return strconv.Itoa(width)
	}
	s := strconv.Itoa(width) + "x" + strconv.Itoa(height)
	if fit {
		s += FitSuffix
	}
	return s
}

// String is the groupcache key: "book/version/size.format", or for a
// content key "@content/size.format" ("@content/trim-L-T-WxH/size.format"
// with a trim box).
func (k VariantKey) String() string {
	if k.Content != "" {
		return ContentKeyMark + k.Content + "/" + k.setName() + k.Name()
	}
	return k.BookID + "/" + k.Version + "/" + k.Name()
}

// setName is the segment of a content key between the content and the
// size: the trim box's, or none.
func (k VariantKey) setName() string {
	if k.Trim.IsZero() {
		return ""
	}
	return trimSegment(k.Trim) + "/"
}

// Name is the variant's name among its siblings: "size.format".
func (k VariantKey) Name() string { return k.Size() + "." + k.Format }

// StorePrefix is the store prefix of the variant and its siblings (the
// same original and trim box): StoreKey is StorePrefix plus Name.
func (k VariantKey) StorePrefix() string {
	switch {
	case k.Content == "":
		return VersionVariantsPrefix(k.BookID, k.Version)
	case k.Trim.IsZero():
		return contentPrefix + k.Content + "/" + contentVariants
	}
	return contentPrefix + k.Content + "/" + trimSegment(k.Trim) + "/"
}

// StoreKey is the object store key of the variant: variants/{book}/{version}/
// or content/{sha256}/variants/ (content/{sha256}/trim-L-T-WxH/) plus Name.
func (k VariantKey) StoreKey() string { return k.StorePrefix() + k.Name() }

// Shared is the key as caches hold it: a content key without the book and
// version that asked, so that every book of one content shares its entry.
func (k VariantKey) Shared() VariantKey {
	if k.Content != "" {
		k.BookID, k.Version = "", ""
	}
	return k
}

// Original names the original the variant is rendered from: the content
// key, or book/version.
func (k VariantKey) Original() string {
	if k.Content != "" {
		return k.Content
	}
	return k.BookID + "/" + k.Version
}

// OriginalKey is the store key of the original the variant is rendered from.
func (k VariantKey) OriginalKey() string {
	if k.Content != "" {
		return ContentOriginalKey(k.Content)
	}
	return OriginalKey(k.BookID, k.Version)
}

// ParseVariantKey is the inverse of VariantKey.String (a content key comes
// back Shared: without book and version).
func ParseVariantKey(s string) (VariantKey, error) {
	parts := strings.Split(s, "/")
	var key VariantKey
	switch content, ok := strings.CutPrefix(parts[0], ContentKeyMark); {
	case ok:
		if len(parts) != 2 && len(parts) != 3 {
			return VariantKey{}, fmt.Errorf("parse variant key %q: %w", s, ErrInvalidVariantKey)
		}
		if err := ValidContent(content); err != nil {
			return VariantKey{}, fmt.Errorf("parse variant key %q: %w: %w", s, ErrInvalidVariantKey, err)
		}
		key.Content = content
		if len(parts) == 3 {
			if key.Trim, ok = parseTrimSegment(parts[1]); !ok {
				return VariantKey{}, fmt.Errorf("parse variant key %q: trim box: %w", s, ErrInvalidVariantKey)
			}
		}
	case len(parts) != 3 || parts[1] == "":
		return VariantKey{}, fmt.Errorf("parse variant key %q: %w", s, ErrInvalidVariantKey)
	default:
		if err := ValidBookID(parts[0]); err != nil {
			return VariantKey{}, fmt.Errorf("parse variant key: %w", err)
		}
		key.BookID, key.Version = parts[0], parts[1]
	}
	size, format, ok := strings.Cut(parts[len(parts)-1], ".")
	if !ok || size == "" || format == "" {
		return VariantKey{}, fmt.Errorf("parse variant key %q: %w", s, ErrInvalidVariantKey)
	}
	key.Format = format
	var err error
	ws, hs, box := strings.Cut(size, "x")
	if hs, key.Fit = strings.CutSuffix(hs, FitSuffix); key.Fit && !box {
		return VariantKey{}, fmt.Errorf("parse variant key %q: fit without a box: %w", s, ErrInvalidVariantKey)
	}
	if key.Width, err = strconv.Atoi(ws); err != nil || key.Width <= 0 {
		return VariantKey{}, fmt.Errorf("parse variant key %q: width: %w", s, ErrInvalidVariantKey)
	}
	if box {
		if key.Height, err = strconv.Atoi(hs); err != nil || key.Height <= 0 {
			return VariantKey{}, fmt.Errorf("parse variant key %q: height: %w", s, ErrInvalidVariantKey)
		}
	}
	if key.String() != s {
		return VariantKey{}, fmt.Errorf("parse variant key %q: not canonical: %w", s, ErrInvalidVariantKey)
	}
	return key, nil
}
