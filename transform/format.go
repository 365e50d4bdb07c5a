package transform

import (
	"fmt"
	"strings"
)

// Format is an output encoding.
type Format string

// Output formats.
const (
	WebP Format = "webp"
	AVIF Format = "avif"
)

// ParseFormat turns "webp" or "avif" (any case, surrounding blanks ignored)
// into a Format; anything else is ErrUnsupportedFormat.
func ParseFormat(s string) (Format, error) {
	switch Format(strings.ToLower(strings.TrimSpace(s))) {
	case WebP:
		return WebP, nil
	case AVIF:
		return AVIF, nil
	}
	return "", fmt.Errorf("transform parse format %q: %w", s, ErrUnsupportedFormat)
}

// ContentType is the MIME type of the format, or "" for an unknown format.
func (f Format) ContentType() string {
	switch f {
	case WebP:
		return "image/webp"
	case AVIF:
		return "image/avif"
	}
	return ""
}

// valid reports whether f is one of the known output formats.
func (f Format) valid() bool { return f == WebP || f == AVIF }
