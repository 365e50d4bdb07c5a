package cache

import (
	"testing"

	"github.com/bookcovers/image-worker/cover"
)

func TestHotIndexStaysWithinItsBound(t *testing.T) {
	t.Parallel()
	h := newHotIndex[cover.VariantKey](10_000)
	for i := range 100 {
		h.add(cover.VariantKey{BookID: "B", Version: "v", Width: 16 + i, Format: "webp"}, Variant{Bytes: make([]byte, 1000)})
		if h.size() > 10_000 {
			t.Fatalf("after %d adds: %d bytes, over the 10000 bound", i+1, h.size())
		}
	}
	if len(h.m) != 10 {
		t.Errorf("entries = %d, want 10 of 1000 bytes", len(h.m))
	}
	h.add(cover.VariantKey{BookID: "B", Version: "v", Width: 1, Format: "webp"}, Variant{Bytes: make([]byte, 5000)})
	if _, ok := h.get(cover.VariantKey{BookID: "B", Version: "v", Width: 1, Format: "webp"}); ok {
		t.Error("a variant larger than a quarter of the bound was indexed")
	}
}
