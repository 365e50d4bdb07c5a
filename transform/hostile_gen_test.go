package transform

// The transform side of internal/hostile, whose generators build every
// hostile (and a few good) originals in code: what needs libvips or
// transform's own parsers stays here, with the mapping from hostile's job
// error codes to transform's sentinel errors. None of it reads files
// outside testdata/.

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"testing"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/bookcovers/image-worker/internal/hostile"
)

// hostileLimit is the pixel limit hostile classes are judged against: the
// default MaxPixels.
const hostileLimit = hostile.MaxPixels

// codeErrors maps each hostile.Case code to the sentinel that
// Renderer.Check (the ingest check) must wrap for ingest.Code to return it.
var codeErrors = map[string]error{
	hostile.CodeNotAnImage:      ErrNotAnImage,
	hostile.CodeTooManyPixels:   ErrTooManyPixels,
	hostile.CodeUnsupportedType: ErrUnsupportedType,
	hostile.CodeCorruptImage:    ErrRenderFailed,
}

// hostileCase is one named hostile input and what Probe must answer.
type hostileCase struct {
	name string
	data []byte
	// want is the sentinel Probe must return at hostileLimit, or nil when
	// Probe legitimately accepts the header and only a decode can find the
	// problem (corrupt_image).
	want error
}

// realFiles reads the real files hostile.Classes cuts and corrupts.
func realFiles(tb testing.TB) hostile.Real {
	tb.Helper()
	n := hostile.RealFiles
	return hostile.Real{JPEG: testdata(tb, n.JPEG), PNG: testdata(tb, n.PNG), GIF: testdata(tb, n.GIF),
		WebP: testdata(tb, n.WebP), AVIF: testdata(tb, n.AVIF), HEIC: testdata(tb, n.HEIC)}
}

// hostileFiles is every hostile class: hostile.Classes of the real files.
func hostileFiles(tb testing.TB) []hostile.Case {
	tb.Helper()
	return hostile.Classes(realFiles(tb))
}

// hostileClasses is every hostile class but the cuts of whole files, with
// the sentinel Probe(data, hostileLimit) must return: the one of its code,
// nil for corrupt_image. (Where a cut is refused depends on where it falls;
// TestProbeTruncations holds Probe to its rule for cuts, and
// TestHostileClassCodes every cut to its code.)
func hostileClasses(tb testing.TB) []hostileCase {
	tb.Helper()
	var out []hostileCase
	for _, c := range hostileFiles(tb) {
		if c.Truncated {
			continue
		}
		want := codeErrors[c.Code]
		if c.Code == hostile.CodeCorruptImage {
			want = nil
		}
		out = append(out, hostileCase{name: c.Name, data: c.Data, want: want})
	}
	return out
}

// truncations cuts data at several points (hostile.Truncations).
func truncations(data []byte) [][]byte { return hostile.Truncations(data) }

// TestHostileClassCodes runs every hostile class through the ingest check
// (Renderer.Check: CheckOriginal, then a whole decode in a render worker)
// at hostileLimit: each must fail with the sentinel of its code, so that
// ingest ends the job with that code. Files of code corrupt_image must get
// past Probe and CheckOriginal (only the decode may refuse them), and
// cuts past Probe or be refused by it as not an image.
func TestHostileClassCodes(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, func(c *Config) { c.MaxPixels = hostileLimit })
	for _, c := range hostileFiles(t) {
		want, ok := codeErrors[c.Code]
		if !ok {
			t.Errorf("%s: code %q maps to no sentinel", c.Name, c.Code)
			continue
		}
		info, perr := Probe(c.Data, hostileLimit)
		switch {
		case c.Code == hostile.CodeCorruptImage && perr != nil:
			t.Errorf("%s: Probe(%d bytes) = %v; want it accepted (only a decode may refuse %s)", c.Name, len(c.Data), perr, c.Code)
		case c.Truncated && perr != nil && !errors.Is(perr, ErrNotAnImage):
			t.Errorf("%s: Probe(%d bytes) = %v; want it accepted or ErrNotAnImage", c.Name, len(c.Data), perr)
		}
		if c.Code == hostile.CodeCorruptImage {
			if _, err := CheckOriginal(c.Data, hostileLimit); err != nil {
				t.Errorf("%s: CheckOriginal(%d bytes) = %v; want it accepted (only a decode may refuse %s)", c.Name, len(c.Data), err, c.Code)
			}
		}
		if _, err := r.Check(context.Background(), c.Data); !errors.Is(err, want) {
			t.Errorf("%s: Renderer.Check(%d bytes, probed %+v) = %v; want %v (%s)", c.Name, len(c.Data), info, firstLine(err), want, c.Code)
		}
	}
}

// avifCodedImage encodes a w x h grey image as AVIF with libvips and takes
// its primary item apart for hostile.HEIFGridSpec.Coded (libvips writes one item with one extent in mdat).
func avifCodedImage(tb testing.TB, w, h int) *hostile.CodedImage {
	tb.Helper()
	img, err := vips.NewImageFromBuffer(hostile.PNGGrey(w, h))
	if err != nil {
		tb.Fatalf("load %dx%d PNG: %v", w, h, err)
	}
	defer img.Close()
	file, _, err := img.ExportAvif(vips.NewAvifExportParams())
	if err != nil {
		tb.Fatalf("export %dx%d AVIF: %v", w, h, err)
	}
	var meta []byte
	for off := 0; ; {
		bx, ok := readBox(file, off)
		if !ok {
			break
		}
		if bx.is("meta") {
			meta = bx.body[4:]
		}
		off = bx.end
	}
	var m heifMeta
	if err := m.init(TypeAVIF, file, meta); err != nil {
		tb.Fatalf("libvips AVIF meta box: %v", err)
	}
	assoc, ok := m.assoc.find(&m.steps, m.primary)
	if !ok {
		tb.Fatalf("libvips AVIF: no properties for primary item %d", m.primary)
	}
	c := &hostile.CodedImage{}
	for _, a := range assoc {
		p, ok := m.property(int(a & 0x7f))
		if !ok {
			tb.Fatalf("libvips AVIF: property %d missing", a&0x7f)
		}
		c.Props = append(c.Props, hostile.Box(string(p.typ), p.body))
	}
	var buf [1 << 16]byte
	n, reachable := m.itemData(m.primary, buf[:])
	if !reachable || n == 0 || n == len(buf) {
		tb.Fatalf("libvips AVIF: primary item data: %d bytes, reachable %v", n, reachable)
	}
	c.Data = bytes.Clone(buf[:n])
	return c
}

// --- Good originals generated instead of read from the shared corpus ---

// tiff800x1200 is an 8-bit RGB TIFF of 800x1200 made by libvips from
// testdata/photo-1600x2400-baseline.jpg.
func tiff800x1200(tb testing.TB) []byte {
	tb.Helper()
	img, err := vips.NewImageFromBuffer(testdata(tb, "photo-1600x2400-baseline.jpg"))
	if err != nil {
		tb.Fatalf("load photo-1600x2400-baseline.jpg: %v", err)
	}
	defer img.Close()
	if err := img.Resize(0.5, vips.KernelLanczos3); err != nil {
		tb.Fatalf("resize photo-1600x2400-baseline.jpg by 0.5: %v", err)
	}
	b, _, err := img.ExportTiff(vips.NewTiffExportParams())
	if err != nil {
		tb.Fatalf("export %dx%d TIFF: %v", img.Width(), img.Height(), err)
	}
	return b
}

// png16bit1000x1500 is a 16-bit RGB PNG of 1000x1500 holding a gradient
// (image/png writes an opaque RGBA64 image as 16-bit truecolour).
func png16bit1000x1500(tb testing.TB) []byte {
	tb.Helper()
	const w, h = 1000, 1500
	img := image.NewRGBA64(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA64(x, y, color.RGBA64{R: uint16(x * 65535 / (w - 1)), G: uint16(y * 65535 / (h - 1)), B: 0x8000, A: 0xFFFF})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatalf("png.Encode(%dx%d RGBA64): %v", w, h, err)
	}
	return buf.Bytes()
}

// jpeg4000x6000 is a 4000x6000 baseline JPEG (quality 85) made by libvips
// from testdata/photo-1600x2400-baseline.jpg enlarged 2.5 times: the large
// original of the benchmarks.
func jpeg4000x6000(tb testing.TB) []byte {
	tb.Helper()
	img, err := vips.NewImageFromBuffer(testdata(tb, "photo-1600x2400-baseline.jpg"))
	if err != nil {
		tb.Fatalf("load photo-1600x2400-baseline.jpg: %v", err)
	}
	defer img.Close()
	if err := img.Resize(2.5, vips.KernelLanczos3); err != nil {
		tb.Fatalf("resize photo-1600x2400-baseline.jpg by 2.5: %v", err)
	}
	p := vips.NewJpegExportParams()
	p.Quality = 85
	b, _, err := img.ExportJpeg(p)
	if err != nil {
		tb.Fatalf("export %dx%d JPEG: %v", img.Width(), img.Height(), err)
	}
	return b
}
