package transform

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/bookcovers/image-worker/cover"
)

// TestRenderVariant renders what a variant key names: its size, box, fit
// and format; a key whose original is no image fails naming the key.
func TestRenderVariant(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	src := testdata(t, "photo-1600x2400-baseline.jpg")
	tests := []struct {
		name          string
		key           cover.VariantKey
		format        cover.Format
		width, height int
	}{
		{"width", cover.VariantKey{BookID: "B1", Version: "3f9a1c2b7d4e", Width: 320, Format: "webp"}, cover.WebP, 320, 480},
		{"box", cover.VariantKey{BookID: "B1", Version: "3f9a1c2b7d4e", Width: 200, Height: 200, Format: "avif"}, cover.AVIF, 200, 200},
		{"fit box", cover.VariantKey{BookID: "B1", Version: "3f9a1c2b7d4e", Width: 300, Height: 200, Fit: true, Format: "jpg"}, cover.JPEG, 300, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := r.RenderVariant(context.Background(), src, tc.key)
			if err != nil {
				t.Fatalf("RenderVariant(%s): %v", tc.key, err)
			}
			if d := decodeOutput(t, b); d.format != tc.format || d.width != tc.width || d.height != tc.height {
				t.Errorf("RenderVariant(%s) decodes as %s %dx%d, want %s %dx%d", tc.key, d.format, d.width, d.height, tc.format, tc.width, tc.height)
			}
		})
	}
	key := cover.VariantKey{BookID: "B2", Version: "0123456789ab", Width: 96, Format: "webp"}
	_, err := r.RenderVariant(context.Background(), []byte("not an image"), key)
	if !errors.Is(err, ErrNotAnImage) || !strings.Contains(err.Error(), "render "+key.String()) {
		t.Errorf("RenderVariant of no image = %v, want ErrNotAnImage naming %s", err, key)
	}
	key.Format = "gif"
	if _, err := r.RenderVariant(context.Background(), src, key); !errors.Is(err, cover.ErrUnsupportedFormat) {
		t.Errorf("RenderVariant(%s) = %v, want cover.ErrUnsupportedFormat", key, err)
	}
}
