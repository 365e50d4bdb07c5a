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
type VariantKey struct {
	BookID  string
	Version string
	Width   int // target width
	Height  int // 0 keeps the aspect ratio; otherwise the box height
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

// String is the groupcache key: "book/version/size.format".
func (k VariantKey) String() string {
	return k.BookID + "/" + k.Version + "/" + k.Size() + "." + k.Format
}

// StoreKey is the object store key of the variant.
func (k VariantKey) StoreKey() string { return variantsPrefix + k.String() }

// ParseVariantKey is the inverse of VariantKey.String.
func ParseVariantKey(s string) (VariantKey, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return VariantKey{}, fmt.Errorf("parse variant key %q: %w", s, ErrInvalidVariantKey)
	}
	size, format, ok := strings.Cut(parts[2], ".")
	if !ok || size == "" || format == "" || parts[1] == "" {
		return VariantKey{}, fmt.Errorf("parse variant key %q: %w", s, ErrInvalidVariantKey)
	}
	if err := ValidBookID(parts[0]); err != nil {
		return VariantKey{}, fmt.Errorf("parse variant key: %w", err)
	}
	key := VariantKey{BookID: parts[0], Version: parts[1], Format: format}
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
