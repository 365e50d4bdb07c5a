package transform

import (
	"testing"

	"github.com/davidbyttow/govips/v2/vips"
)

// TestMaterialiseMakesAMemoryImage: the govips ImageRef layout this package
// reaches into is still there (else ladders fall back to single renders),
// and a materialised thumbnail is a memory image with the same pixels that
// several outputs can be made from.
func TestMaterialiseMakesAMemoryImage(t *testing.T) {
	t.Parallel()
	if imageFieldOffset == ^uintptr(0) {
		t.Fatal("govips ImageRef has no image field: ladders would render each output on its own")
	}
	src := testdata(t, "photo-1600x2400-baseline.jpg")
	img, err := vips.LoadThumbnailFromBuffer(src, 200, vipsMaxCoord, vips.InterestingNone, vips.SizeDown, vips.NewImportParams())
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if mem, err := materialised(img); err != nil || mem {
		t.Fatalf("thumbnail before materialise: memory image %v, %v; want a lazy pipeline", mem, err)
	}
	if err := materialise(img); err != nil {
		t.Fatalf("materialise: %v", err)
	}
	if mem, err := materialised(img); err != nil || !mem {
		t.Fatalf("after materialise: memory image %v, %v; want true", mem, err)
	}
	for _, w := range []int{100, 50} { // two passes over one decode
		c, err := img.Copy()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Thumbnail(w, vipsMaxCoord, vips.InterestingNone); err != nil {
			t.Fatalf("thumbnail %d of the memory image: %v", w, err)
		}
		if _, err := c.ToBytes(); err != nil || c.Width() != w {
			t.Fatalf("output %d: %dx%d, %v", w, c.Width(), c.Height(), err)
		}
		c.Close()
	}
}
