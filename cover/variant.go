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
	Width   int    // target width
	Height  int    // 0 keeps the aspect ratio; otherwise the box height
	Format  string // a Format: "webp", "avif", "jpg" (Formats)
}

// Size is the canonical size: "320" (width) or "320x480" (box).
func (k VariantKey) Size() string {
	if k.Height == 0 {
		return strconv.Itoa(k.Width)
	}
	return strconv.Itoa(k.Width) + "x" + strconv.Itoa(k.Height)
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
