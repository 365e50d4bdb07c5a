package transform

import (
	"testing"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/bookcovers/image-worker/internal/hostile"
)

// fuzzMaxPixels keeps accepted inputs small enough to load quickly.
const fuzzMaxPixels = 4_000_000

// FuzzProbeMatchesLoader: for any input Probe accepts, the libvips loader
// of the type Probe decided (the only one a worker unblocks) reports the
// same width and height as Probe (HEIF/AVIF: the upright size, since
// libheif applies irot), or fails; it never reports more pixels than the
// limit. This is the property that makes Probe's limits the decoder's.
// It loads headers in this process (as a worker does), so it is not run in
// parallel with anything.
func FuzzProbeMatchesLoader(f *testing.F) {
	for _, name := range []string{"cover-50x75-tiny.jpg", "exif-orientation-8.jpg", "cover-400x600-static.gif",
		"cover-240x360-animated-4frames.webp", "cover-1200x1800.heic", "cover-1200x1800.avif"} {
		f.Add(testdata(f, name))
	}
	f.Add(hostile.GIFWithFrames(16, 16, hostile.GIFFrame{Left: 10, Top: 5, W: 30, H: 20}))
	f.Add(hostile.GIFWithFrames(640, 480, hostile.GIFFrame{W: 100, H: 50}))
	f.Add(hostile.WebPLossless(50, 30))
	f.Add(hostile.WebPAnim(64, 64, hostile.WebPFrame{W: 16, H: 16, BitW: 16, BitH: 16}, hostile.WebPFrame{X: 16, Y: 16, W: 32, H: 32, BitW: 32, BitH: 32}))
	f.Add(hostile.PNGWithIHDR(300, 200, 8, 6))
	f.Add(hostile.TIFFMultiPage([][2]int{{64, 48}, {40000, 40000}}))
	f.Add(hostile.HEIFStill("mif1", []string{"mif1", "heic"}, 64, 96))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Probe(data, fuzzMaxPixels)
		if err != nil {
			return
		}
		src := decodable(info, data)
		var w, h int
		var loadErr error
		if err := withLoader(info.Type, func() error {
			img, err := vips.NewImageFromBuffer(src)
			if err != nil {
				loadErr = err
				return nil
			}
			w, h = img.Width(), img.Height()
			img.Close()
			return nil
		}); err != nil {
			t.Fatalf("Probe accepted a %s, which has no loader: %v", info.Type, err)
		}
		if loadErr != nil {
			return // the loader refused it: fine, the decode would fail too
		}
		wantW, wantH := info.Width, info.Height
		if info.Type == TypeHEIF || info.Type == TypeAVIF {
			wantW, wantH = info.DisplaySize()
		}
		if w != wantW || h != wantH {
			t.Fatalf("Probe says %s %dx%d (upright %dx%d); its loader says %dx%d", info.Type, info.Width, info.Height, wantW, wantH, w, h)
		}
		if int64(w)*int64(h) > fuzzMaxPixels {
			t.Fatalf("loader reports %dx%d, over the %d-pixel limit Probe applied", w, h, fuzzMaxPixels)
		}
	})
}
