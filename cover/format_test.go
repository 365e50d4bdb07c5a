package cover

import (
	"errors"
	"strings"
	"testing"
)

func TestParseFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Format
		ctype   string
		wantErr error
	}{
		{"webp", WebP, "image/webp", nil},
		{"avif", AVIF, "image/avif", nil},
		{" AVIF ", AVIF, "image/avif", nil},
		{"jpg", JPEG, "image/jpeg", nil},
		{"JPG", JPEG, "image/jpeg", nil},
		{"jpeg", "", "", ErrUnsupportedFormat}, // one spelling per variant: .jpg
		{"png", "", "", ErrUnsupportedFormat},
		{"", "", "", ErrUnsupportedFormat},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseFormat(tc.in)
			if got != tc.want || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("ParseFormat(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.wantErr)
			}
			if got.ContentType() != tc.ctype {
				t.Fatalf("%q.ContentType() = %q; want %q", got, got.ContentType(), tc.ctype)
			}
		})
	}
}

// TestFormatsAreOnePlace: every listed format parses as itself, has a MIME
// type, and is named in the bad_format message.
func TestFormatsAreOnePlace(t *testing.T) {
	t.Parallel()
	if len(Formats()) == 0 {
		t.Fatal("Formats() is empty")
	}
	for _, f := range Formats() {
		if got, err := ParseFormat(string(f)); got != f || err != nil || !f.Valid() || f.ContentType() == "" {
			t.Errorf("ParseFormat(%q) = %q, %v; Valid %v, ContentType %q; want the format itself with a MIME type", f, got, err, f.Valid(), f.ContentType())
		}
		if !strings.Contains(formatNames(), string(f)) {
			t.Errorf("formatNames() = %q does not name %s", formatNames(), f)
		}
	}
	if got, want := formatNames(), "webp, avif or jpg"; len(Formats()) == 3 && got != want {
		t.Errorf("formatNames() = %q, want %q", got, want)
	}
}
