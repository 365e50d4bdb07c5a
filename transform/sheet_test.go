package transform

import (
	"bytes"
	"image"
	"image/png"
	"testing"

	"github.com/bookcovers/image-worker/cover"
)

// TestComposeContactSheet stands two rendered variants on one baseline:
// the layout gives each its own size, bottom-aligned, left to right, and
// the PNG is the layout's size with the background around the covers.
func TestComposeContactSheet(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	src := testdata(t, "photo-1600x2400-baseline.jpg")
	small := render(t, r, src, Request{Width: 96, Format: cover.WebP})
	large := render(t, r, src, Request{Width: 200, Format: cover.AVIF})
	out, layout, err := ComposeContactSheet("B1", []SheetPanel{{Name: "thumb", Data: small.Bytes}, {Name: "medium", Data: large.Bytes}}, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("sheet is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != layout.Width || b.Dy() != layout.Height {
		t.Fatalf("sheet is %v, layout says %dx%d", b, layout.Width, layout.Height)
	}
	want := []Result{small, large}
	if len(layout.Panels) != len(want) {
		t.Fatalf("layout has %d panels, want %d", len(layout.Panels), len(want))
	}
	baseline := SheetBaseline(layout.Height)
	for i, p := range layout.Panels {
		if p.Dx() != want[i].Width || p.Dy() != want[i].Height || p.Max.Y != baseline {
			t.Errorf("panel %d at %v, want %dx%d standing on y=%d", i, p, want[i].Width, want[i].Height, baseline)
		}
		if i > 0 && p.Min.X <= layout.Panels[i-1].Max.X {
			t.Errorf("panel %d at %v overlaps or precedes panel %d at %v", i, p, i-1, layout.Panels[i-1])
		}
		if !SheetLabelBox(p).In(img.Bounds()) {
			t.Errorf("label box %v of panel %d is outside the sheet %v", SheetLabelBox(p), i, img.Bounds())
		}
	}
	// A corner is background; the middle of a cover is not.
	bg := SheetBackground()
	if c := img.At(1, 1); !sameRGB(c, bg.R, bg.G, bg.B) {
		t.Errorf("corner pixel %v, want the background %v", c, bg)
	}
	mid := image.Pt((layout.Panels[1].Min.X+layout.Panels[1].Max.X)/2, (layout.Panels[1].Min.Y+layout.Panels[1].Max.Y)/2)
	if c := img.At(mid.X, mid.Y); sameRGB(c, bg.R, bg.G, bg.B) {
		t.Errorf("middle of the second cover at %v is background", mid)
	}

	if _, _, err := ComposeContactSheet("B1", nil, 1, false); err == nil {
		t.Error("a sheet of no panels was composed")
	}
}

func sameRGB(c interface{ RGBA() (r, g, b, a uint32) }, r, g, b uint8) bool {
	cr, cg, cb, _ := c.RGBA()
	return uint8(cr>>8) == r && uint8(cg>>8) == g && uint8(cb>>8) == b
}
