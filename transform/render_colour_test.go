package transform

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"testing"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/bookcovers/image-worker/cover"
)

// The orientation-6 photo must match its stored pixels turned 90 degrees
// clockwise, and not the anticlockwise turn.
func TestRenderOrientation6Upright(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	src := testdata(t, "photo-exif-orientation-6.jpg")
	stored, err := jpeg.Decode(bytes.NewReader(src)) // image/jpeg ignores EXIF
	if err != nil {
		t.Fatalf("decode stored pixels: %v", err)
	}
	storedGrid := lumaGrid(stored, 12, 8)
	cw := rotateCW(storedGrid)
	ccw := rotateCW(rotateCW(cw))
	for _, f := range formats {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			d := checkOutput(t, render(t, r, src, Request{Width: 320, Format: f}), f, 320, 480)
			got := lumaGrid(d.pixels, 8, 12)
			dCW, dCCW := gridDiff(got, cw), gridDiff(got, ccw)
			if dCW > 12 || dCW*2 > dCCW {
				t.Fatalf("luma difference to stored pixels turned clockwise %.1f, anticlockwise %.1f; want clockwise small (<12) and under half of anticlockwise", dCW, dCCW)
			}
		})
	}
}

// exif-orientation-8.jpg shows a white 'F' at the top left when upright:
// its stem sits at about x 25-33 %, y 17-40 %. A mirrored or turned output
// has image content there instead.
func TestRenderOrientation8Mark(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	for _, f := range formats {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			d := checkOutput(t, render(t, r, testdata(t, "exif-orientation-8.jpg"), Request{Width: 240, Format: f}), f, 240, 360)
			stem := luma(meanRGB(d.pixels, 0.26, 0.19, 0.32, 0.38))
			mirror := luma(meanRGB(d.pixels, 0.68, 0.19, 0.74, 0.38))
			bottom := luma(meanRGB(d.pixels, 0.26, 0.62, 0.32, 0.81))
			if stem < 200 || stem-mirror < 40 || stem-bottom < 40 {
				t.Fatalf("F stem luma %.0f, mirrored spot %.0f, turned spot %.0f; want stem near white (>=200) and 40 above both", stem, mirror, bottom)
			}
		})
	}
}

// The CMYK original without a profile must come out as 3-band sRGB whose
// colours follow the source: compared with Go's own CMYK decode (naive
// conversion), cell by cell; an inverted or channel-swapped result is far off.
func TestRenderCMYKNoProfile(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	src := testdata(t, "photo-1600x2400-cmyk-noprofile.jpg")
	ref, err := jpeg.Decode(bytes.NewReader(src))
	if err != nil {
		t.Fatalf("decode CMYK reference: %v", err)
	}
	if _, ok := ref.(*image.CMYK); !ok {
		t.Fatalf("reference decodes as %T; want *image.CMYK", ref)
	}
	refRGB := toRGBA(ref)
	for _, f := range formats {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			d := checkOutput(t, render(t, r, src, Request{Width: 320, Format: f}), f, 320, 480)
			if d.bands != 3 || d.interpretation != vips.InterpretationSRGB {
				t.Fatalf("output has %d bands, interpretation %v; want 3-band sRGB", d.bands, d.interpretation)
			}
			for _, cell := range [][4]float64{{0, 0, 0.5, 0.5}, {0.5, 0, 1, 0.5}, {0, 0.5, 0.5, 1}, {0.5, 0.5, 1, 1}} {
				got := meanRGB(d.pixels, cell[0], cell[1], cell[2], cell[3])
				want := meanRGB(refRGB, cell[0], cell[1], cell[2], cell[3])
				for c := range 3 {
					if math.Abs(got[c]-want[c]) > 45 {
						t.Fatalf("cell %v channel %d: output mean %.0f, naive CMYK conversion %.0f; want within 45", cell, c, got[c], want[c])
					}
				}
			}
		})
	}
}

// The same CMYK photo with the embedded "Chemical proof" profile (the one
// libvips also uses as its CMYK fallback) must render to the same colours.
func TestRenderCMYKMatchesProfiledVariant(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	withICC := testdata(t, "photo-1600x2400-cmyk-icc.jpg")
	a := checkOutput(t, render(t, r, testdata(t, "photo-1600x2400-cmyk-noprofile.jpg"), Request{Width: 320, Format: cover.WebP}), cover.WebP, 320, 480)
	b := checkOutput(t, render(t, r, withICC, Request{Width: 320, Format: cover.WebP}), cover.WebP, 320, 480)
	ma, mb := meanRGB(a.pixels, 0, 0, 1, 1), meanRGB(b.pixels, 0, 0, 1, 1)
	for c := range 3 {
		if math.Abs(ma[c]-mb[c]) > 3 {
			t.Fatalf("mean colour without profile %.0f, with profile %.0f; want within 3 per channel", ma, mb)
		}
	}
}

// An Adobe RGB original must be converted, not merely have its profile
// dropped: the converted output is more saturated than a render of the same
// pixels with the ICC segment cut out.
func TestRenderAdobeRGBConverted(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	src := testdata(t, "photo-1600x2400-adobergb-icc.jpg")
	noICC := dropJPEGICC(t, src)
	for _, f := range formats {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			conv := checkOutput(t, render(t, r, src, Request{Width: 320, Format: f}), f, 320, 480)
			flat := checkOutput(t, render(t, r, noICC, Request{Width: 320, Format: f}), f, 320, 480)
			sc, sf := chroma(conv.pixels), chroma(flat.pixels)
			if conv.bands != 3 || conv.interpretation != vips.InterpretationSRGB || sc < sf*1.08 {
				t.Fatalf("converted: %d bands, %v, mean chroma %.1f; profile dropped: %.1f; want 3-band sRGB at least 8%% more chroma",
					conv.bands, conv.interpretation, sc, sf)
			}
		})
	}
}

func TestRenderAlpha(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	for _, f := range formats {
		if f == cover.JPEG {
			continue // no alpha: flattened, TestRenderJPEGFlattensAlpha
		}
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			d := checkOutput(t, render(t, r, testdata(t, "cover-800x1200-alpha.png"), Request{Width: 320, Format: f}), f, 320, 480)
			if d.bands != 4 {
				t.Fatalf("output has %d bands; want 4 (alpha kept)", d.bands)
			}
			// Fully transparent: rounded corner and circular hole (centre at
			// 50 %, 21 %); opaque middle; bottom edge fades to ~15 %.
			alpha := func(fx, fy float64) int {
				_, _, _, a := d.pixels.At(int(fx*float64(d.width)), int(fy*float64(d.height))).RGBA()
				return int(a >> 8)
			}
			corner, hole, middle, bottom := alpha(0, 0), alpha(0.5, 0.21), alpha(0.5, 0.5), alpha(0.5, 0.99)
			if corner > 16 || hole > 16 || middle < 240 || bottom < 15 || bottom > 80 {
				t.Fatalf("alpha at corner %d, hole %d, middle %d, bottom %d; want ~0, ~0, ~255, ~38", corner, hole, middle, bottom)
			}
		})
	}
}

// dropJPEGICC returns src without its APP2 ICC_PROFILE segments.
func dropJPEGICC(t *testing.T, src []byte) []byte {
	t.Helper()
	out := append([]byte{}, src[:2]...)
	i := 2
	for i+4 <= len(src) && src[i] == 0xFF && src[i+1] != 0xDA {
		n := int(src[i+2])<<8 | int(src[i+3])
		seg := src[i : i+2+n]
		if !(src[i+1] == 0xE2 && bytes.HasPrefix(seg[4:], []byte("ICC_PROFILE\x00"))) {
			out = append(out, seg...)
		}
		i += 2 + n
	}
	if len(out) == i {
		t.Fatalf("no ICC_PROFILE segment found in the Adobe RGB test file")
	}
	return append(out, src[i:]...)
}

// chroma is the mean of max(R,G,B)-min(R,G,B) over the image.
func chroma(img image.Image) float64 {
	b := img.Bounds()
	sum := 0.0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			hi := max(r, g, bl) >> 8
			lo := min(r, g, bl) >> 8
			sum += float64(hi - lo)
		}
	}
	return sum / float64(b.Dx()*b.Dy())
}

// toRGBA converts any image with the standard library's colour models.
func toRGBA(img image.Image) image.Image {
	b := img.Bounds()
	out := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			out.Set(x, y, color.RGBAModel.Convert(img.At(x, y)))
		}
	}
	return out
}
