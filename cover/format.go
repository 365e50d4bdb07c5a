package cover

import (
	"fmt"
	"strings"
)

// Format is an output encoding of a variant: what a cover URL ends with
// ("320.webp") and what VariantKey.Format holds.
type Format string

// Output formats.
const (
	WebP Format = "webp"
	AVIF Format = "avif"
	JPEG Format = "jpg"
)

// formats is every output format the service serves, with its MIME type, in
// the order answers list them (meta.json, metrics). Adding a format is one
// line here; transform then needs its encoder.
var formats = [...]struct {
	format      Format
	contentType string
}{
	{WebP, "image/webp"},
	{AVIF, "image/avif"},
	{JPEG, "image/jpeg"},
}

// ErrUnsupportedFormat reports a format that is not one of Formats.
var ErrUnsupportedFormat = NewError(CodeBadFormat, "cover: unsupported output format")

// Formats returns every output format, in the order answers list them.
func Formats() []Format {
	out := make([]Format, len(formats))
	for i, f := range formats {
		out[i] = f.format
	}
	return out
}

// ParseFormat turns a format name (any case, surrounding blanks ignored)
// into a Format; anything else is ErrUnsupportedFormat.
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	if !f.Valid() {
		return "", fmt.Errorf("parse format %q: %w", s, ErrUnsupportedFormat)
	}
	return f, nil
}

// Valid reports whether f is one of Formats.
func (f Format) Valid() bool { return f.ContentType() != "" }

// ContentType is the MIME type of the format, or "" for an unknown format.
func (f Format) ContentType() string {
	for _, k := range formats {
		if k.format == f {
			return k.contentType
		}
	}
	return ""
}

// formatNames names the formats for people: "webp, avif or jpg".
func formatNames() string {
	names := make([]string, len(formats))
	for i, f := range formats {
		names[i] = string(f.format)
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
