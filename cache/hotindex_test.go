package cache

import "testing"

func TestHotIndexStaysWithinItsBound(t *testing.T) {
	t.Parallel()
	h := newHotIndex[VariantKey](10_000)
	for i := range 100 {
		h.add(VariantKey{BookID: "B", Version: "v", Width: 16 + i, Format: "webp"}, Variant{Bytes: make([]byte, 1000)})
		if h.size() > 10_000 {
			t.Fatalf("after %d adds: %d bytes, over the 10000 bound", i+1, h.size())
		}
	}
	if len(h.m) != 10 {
		t.Errorf("entries = %d, want 10 of 1000 bytes", len(h.m))
	}
	h.add(VariantKey{BookID: "B", Version: "v", Width: 1, Format: "webp"}, Variant{Bytes: make([]byte, 5000)})
	if _, ok := h.get(VariantKey{BookID: "B", Version: "v", Width: 1, Format: "webp"}); ok {
		t.Error("a variant larger than a quarter of the bound was indexed")
	}
}
