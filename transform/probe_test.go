package transform

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/bookcovers/image-worker/internal/hostile"
)

// pngHeader is a PNG signature, an IHDR declaring w x h and an empty IDAT.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.Write(pngMagic)
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	b.Write(hostile.PNGChunk("IHDR", ihdr))
	b.Write(hostile.PNGChunk("IDAT", []byte{0x78, 0x9c}))
	return b.Bytes()
}

// gifHeader is a GIF89a declaring w x h with one 1x1 frame.
func gifHeader(w, h uint16) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	b = append(b, 0, 0, 0)                         // no global colour table
	b = append(b, 0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0) // image descriptor 1x1
	b = append(b, 2, 2, 0x4C, 0x01, 0, 0x3B)       // LZW size, one sub-block, terminator, trailer
	return b
}

// jpegHeader is SOI, an APP0 and a baseline SOF0 declaring w x h.
func jpegHeader(w, h uint16) []byte {
	b := []byte{0xFF, 0xD8}
	b = append(b, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0)
	b = append(b, 0xFF, 0xC0, 0, 11, 8)
	b = binary.BigEndian.AppendUint16(b, h)
	b = binary.BigEndian.AppendUint16(b, w)
	b = append(b, 1, 1, 0x11, 0)
	return append(b, 0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 0x3F, 0)
}

// webpVP8X is an extended still WebP declaring a w x h canvas and holding a
// lossless bitstream of the same size.
func webpVP8X(w, h uint32) []byte { return hostile.WebPStill(int(w), int(h), int(w), int(h)) }

// tiffHeaderBytes builds a little-endian TIFF header with IFD0 holding
// width, height and orientation, and a second IFD declaring a 16x16 page.
func tiffHeaderBytes(w, h uint32, orientation uint16) []byte {
	b := []byte("II*\x00")
	b = binary.LittleEndian.AppendUint32(b, 8)
	entry := func(tag, typ uint16, v uint32) {
		b = binary.LittleEndian.AppendUint16(b, tag)
		b = binary.LittleEndian.AppendUint16(b, typ)
		b = binary.LittleEndian.AppendUint32(b, 1)
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	b = binary.LittleEndian.AppendUint16(b, 3)
	entry(tagImageWidth, 4, w)
	entry(tagImageLength, 4, h)
	entry(tagOrientation, 3, uint32(orientation))
	next := uint32(len(b) + 4)
	b = binary.LittleEndian.AppendUint32(b, next)
	b = binary.LittleEndian.AppendUint16(b, 2) // IFD1: a 16x16 page
	entry(tagImageWidth, 3, 16)
	entry(tagImageLength, 3, 16)
	return binary.LittleEndian.AppendUint32(b, 0)
}

func TestProbe(t *testing.T) {
	t.Parallel()
	baseline := testdata(t, "photo-1600x2400-baseline.jpg")
	const limit = 50_000_000
	tests := []struct {
		name      string
		data      []byte
		maxPixels int64 // 0: the 50 MP default; -1: no limit
		want      Info
		wantErr   error
	}{
		{name: "baseline jpeg", data: baseline,
			want: Info{Type: TypeJPEG, ContentType: "image/jpeg", Width: 1600, Height: 2400, Frames: 1, Orientation: 1}},
		{name: "jpeg header only (first 4 KiB)", data: baseline[:4096],
			want: Info{Type: TypeJPEG, ContentType: "image/jpeg", Width: 1600, Height: 2400, Frames: 1, Orientation: 1}},
		{name: "jpeg exif orientation 6", data: testdata(t, "photo-exif-orientation-6.jpg"),
			want: Info{Type: TypeJPEG, ContentType: "image/jpeg", Width: 1800, Height: 1200, Frames: 1, Orientation: 6}},
		{name: "jpeg exif orientation 8", data: testdata(t, "exif-orientation-8.jpg"),
			want: Info{Type: TypeJPEG, ContentType: "image/jpeg", Width: 360, Height: 240, Frames: 1, Orientation: 8}},
		{name: "cmyk jpeg", data: testdata(t, "photo-1600x2400-cmyk-noprofile.jpg"),
			want: Info{Type: TypeJPEG, ContentType: "image/jpeg", Width: 1600, Height: 2400, Frames: 1, Orientation: 1}},
		{name: "adobe rgb jpeg", data: testdata(t, "photo-1600x2400-adobergb-icc.jpg"),
			want: Info{Type: TypeJPEG, ContentType: "image/jpeg", Width: 1600, Height: 2400, Frames: 1, Orientation: 1}},
		{name: "tiny jpeg", data: testdata(t, "cover-50x75-tiny.jpg"),
			want: Info{Type: TypeJPEG, ContentType: "image/jpeg", Width: 50, Height: 75, Frames: 1, Orientation: 1}},
		{name: "panorama jpeg", data: testdata(t, "panorama-4272x356.jpg"),
			want: Info{Type: TypeJPEG, ContentType: "image/jpeg", Width: 4272, Height: 356, Frames: 1, Orientation: 1}},
		{name: "alpha png", data: testdata(t, "cover-800x1200-alpha.png"),
			want: Info{Type: TypePNG, ContentType: "image/png", Width: 800, Height: 1200, Frames: 1, Orientation: 1}},
		{name: "animated gif", data: testdata(t, "cover-240x360-animated-6frames.gif"),
			want: Info{Type: TypeGIF, ContentType: "image/gif", Width: 240, Height: 360, Frames: 6, Orientation: 1}},
		{name: "avif", data: testdata(t, "cover-1200x1800.avif"),
			want: Info{Type: TypeAVIF, ContentType: "image/avif", Width: 1200, Height: 1800, Frames: 1, Orientation: 1}},
		{name: "tiff built in code, two pages", data: tiffHeaderBytes(800, 1200, 6),
			want: Info{Type: TypeTIFF, ContentType: "image/tiff", Width: 800, Height: 1200, Frames: 2, Orientation: 6}},
		{name: "webp vp8x built in code", data: webpVP8X(640, 960),
			want: Info{Type: TypeWebP, ContentType: "image/webp", Width: 640, Height: 960, Frames: 1, Orientation: 1}},
		{name: "small png header", data: pngHeader(3, 2),
			want: Info{Type: TypePNG, ContentType: "image/png", Width: 3, Height: 2, Frames: 1, Orientation: 1}},
		{name: "small gif header", data: gifHeader(3, 2),
			want: Info{Type: TypeGIF, ContentType: "image/gif", Width: 3, Height: 2, Frames: 1, Orientation: 1}},

		{name: "empty", data: nil, wantErr: ErrNotAnImage},
		{name: "one byte", data: []byte{0xFF}, wantErr: ErrNotAnImage},
		{name: "ten random bytes", data: []byte{0x3a, 0x91, 0x07, 0xee, 0x42, 0x00, 0x5c, 0xd3, 0x18, 0x7f}, wantErr: ErrNotAnImage},
		{name: "jpeg SOI only", data: []byte{0xFF, 0xD8, 0xFF}, wantErr: ErrNotAnImage},
		{name: "truncated jpeg header", data: baseline[:20], wantErr: ErrNotAnImage},
		{name: "jpeg cut inside SOF", data: jpegHeader(100, 100)[:24], wantErr: ErrNotAnImage},
		{name: "jpeg scan before frame header", data: []byte{0xFF, 0xD8, 0xFF, 0xDA, 0, 2}, wantErr: ErrNotAnImage},
		{name: "png signature only", data: pngMagic, wantErr: ErrNotAnImage},
		{name: "gif screen only, no frame", data: gifHeader(3, 2)[:13], wantErr: ErrNotAnImage},
		{name: "riff but not webp chunk", data: []byte("RIFF\x00\x00\x00\x00WEBPJUNK\x00\x00\x00\x00"), wantErr: ErrNotAnImage},
		{name: "mp4 video ftyp", data: []byte("\x00\x00\x00\x14ftypisom\x00\x00\x02\x00isom"), wantErr: ErrNotAnImage},
		{name: "avif ftyp without meta", data: testdata(t, "cover-1200x1800.avif")[:32], wantErr: ErrNotAnImage},
		{name: "html", data: []byte("<!DOCTYPE html><html><body><svg></svg></body></html>"), wantErr: ErrNotAnImage},
		{name: "pdf", data: []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"), wantErr: ErrNotAnImage},
		{name: "plain text", data: []byte("hello, this is not an image\n"), wantErr: ErrNotAnImage},
		{name: "json", data: []byte(`{"width": 100, "height": 100}`), wantErr: ErrNotAnImage},
		{name: "zero width png", data: pngHeader(0, 100), wantErr: ErrNotAnImage},
		{name: "svg", data: []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="400" height="600"></svg>`), wantErr: ErrUnsupportedType},
		{name: "svg with xml declaration and BOM", data: []byte("\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<!-- c -->\n<svg width=\"1\"/>"), wantErr: ErrUnsupportedType},

		{name: "png bomb 30000x30000", data: pngHeader(30000, 30000), wantErr: ErrTooManyPixels},
		{name: "gif bomb 30000x30000", data: gifHeader(30000, 30000), wantErr: ErrTooManyPixels},
		{name: "jpeg bomb 30000x30000", data: jpegHeader(30000, 30000), wantErr: ErrTooManyPixels},
		{name: "webp bomb 30000x30000", data: webpVP8X(30000, 30000), wantErr: ErrTooManyPixels},
		{name: "tiff bomb 30000x30000", data: tiffHeaderBytes(30000, 30000, 1), wantErr: ErrTooManyPixels},
		{name: "png side over MaxSide without pixel limit", data: pngHeader(MaxSide+1, 1), maxPixels: -1, wantErr: ErrTooManyPixels},
		{name: "png 4G side", data: pngHeader(0xFFFFFFFF, 0xFFFFFFFF), maxPixels: -1, wantErr: ErrTooManyPixels},
		{name: "baseline over a small limit", data: baseline, maxPixels: 1600*2400 - 1, wantErr: ErrTooManyPixels},
		{name: "baseline at exactly the limit", data: baseline, maxPixels: 1600 * 2400,
			want: Info{Type: TypeJPEG, ContentType: "image/jpeg", Width: 1600, Height: 2400, Frames: 1, Orientation: 1}},
		{name: "30000x30000 png with no limit", data: pngHeader(30000, 30000), maxPixels: -1,
			want: Info{Type: TypePNG, ContentType: "image/png", Width: 30000, Height: 30000, Frames: 1, Orientation: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			maxPixels := tc.maxPixels
			if maxPixels == 0 {
				maxPixels = limit
			}
			got, err := Probe(tc.data, maxPixels)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Probe(%d bytes, %d) = %+v, %v; want error %v", len(tc.data), maxPixels, got, err, tc.wantErr)
				}
				return
			}
			got.BytesPerPixel = 0 // TestProbeDecodeBudget checks it
			if err != nil || got != tc.want {
				t.Fatalf("Probe(%d bytes, %d) = %+v, %v; want %+v", len(tc.data), maxPixels, got, err, tc.want)
			}
		})
	}
}

// TestProbeFiles probes real files of every type: those in testdata and
// the TIFF and 16-bit PNG that are generated (the shared corpus holds
// copies too large for testdata).
func TestProbeFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		data   func(testing.TB) []byte
		typ    SourceType
		w, h   int
		frames int
	}{
		{"cover-1200x1800-lossy.webp", file("cover-1200x1800-lossy.webp"), TypeWebP, 1200, 1800, 1},
		{"cover-800x1200-alpha.webp", file("cover-800x1200-alpha.webp"), TypeWebP, 800, 1200, 1},
		{"cover-240x360-animated-4frames.webp", file("cover-240x360-animated-4frames.webp"), TypeWebP, 240, 360, 4},
		{"cover-1200x1800.heic", file("cover-1200x1800.heic"), TypeHEIF, 1200, 1800, 1},
		{"cover-1200x1800.avif", file("cover-1200x1800.avif"), TypeAVIF, 1200, 1800, 1},
		{"cover-400x600-static.gif", file("cover-400x600-static.gif"), TypeGIF, 400, 600, 1},
		{"cover-240x360-animated-6frames.gif", file("cover-240x360-animated-6frames.gif"), TypeGIF, 240, 360, 6},
		{"photo-1600x2400-cmyk-icc.jpg", file("photo-1600x2400-cmyk-icc.jpg"), TypeJPEG, 1600, 2400, 1},
		{"photo-1200x1800-exif-gps-xmp-iptc.jpg", file("photo-1200x1800-exif-gps-xmp-iptc.jpg"), TypeJPEG, 1200, 1800, 1},
		{"p6.png", file("p6.png"), TypePNG, 200, 300, 1},
		{"generated 800x1200 tiff", tiff800x1200, TypeTIFF, 800, 1200, 1},
		{"generated 1000x1500 16-bit png", png16bit1000x1500, TypePNG, 1000, 1500, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Probe(tc.data(t), 50_000_000)
			if err != nil || got.Type != tc.typ || got.Width != tc.w || got.Height != tc.h || got.Frames != tc.frames {
				t.Fatalf("Probe(%s) = %+v, %v; want %s %dx%d, %d frames", tc.name, got, err, tc.typ, tc.w, tc.h, tc.frames)
			}
		})
	}
	t.Run("svg file", func(t *testing.T) {
		t.Parallel()
		if _, err := Probe(testdata(t, "cover-400x600.svg"), 0); !errors.Is(err, ErrUnsupportedType) {
			t.Fatalf("Probe(cover-400x600.svg) error = %v; want ErrUnsupportedType", err)
		}
	})
}

// file returns a loader of a testdata file, for tables.
func file(name string) func(testing.TB) []byte {
	return func(tb testing.TB) []byte { return testdata(tb, name) }
}

// TestProbeHostile runs every hostile class through Probe.
func TestProbeHostile(t *testing.T) {
	t.Parallel()
	for _, tc := range hostileClasses(t) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Probe(tc.data, hostileLimit)
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("Probe(%d bytes, %d) = %v; want it accepted (only a decode can find the problem)", len(tc.data), hostileLimit, err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("Probe(%d bytes, %d) = %+v, %v; want error %v", len(tc.data), hostileLimit, got, err, tc.want)
			}
		})
	}
}

// TestProbeGenerated checks what Probe reports for generated files it must
// accept, including the sizes libnsgif really uses for GIFs.
func TestProbeGenerated(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		data      []byte
		maxPixels int64
		want      Info
	}{
		{"gif frame beyond a 16x16 screen grows the canvas", hostile.GIFWithFrames(16, 16, hostile.GIFFrame{Left: 10, Top: 5, W: 30, H: 20}), 0,
			Info{Type: TypeGIF, Width: 40, Height: 25, Frames: 1}},
		{"gif 640x480 screen is distrusted", hostile.GIFFrameBeyondScreen(640, 480, 100, 50), 0,
			Info{Type: TypeGIF, Width: 100, Height: 50, Frames: 1}},
		{"gif screen over 2048 is distrusted", hostile.GIFFrameBeyondScreen(3000, 10, 10, 10), 0,
			Info{Type: TypeGIF, Width: 10, Height: 10, Frames: 1}},
		{"gif 0x0 screen", hostile.GIFFrameBeyondScreen(0, 0, 8, 8), 0,
			Info{Type: TypeGIF, Width: 8, Height: 8, Frames: 1}},
		{"gif second frame does not grow the canvas", hostile.GIFWithFrames(16, 16, hostile.GIFFrame{W: 16, H: 16}, hostile.GIFFrame{W: 100, H: 100}), 0,
			Info{Type: TypeGIF, Width: 16, Height: 16, Frames: 2}},
		{"gif union at exactly the limit", hostile.GIFWithFrames(16, 16, hostile.GIFFrame{W: 16, H: 16}, hostile.GIFFrame{Left: 84, Top: 84, W: 16, H: 16}), 100 * 100,
			Info{Type: TypeGIF, Width: 16, Height: 16, Frames: 2}},
		{"webp lossless", hostile.WebPLossless(50, 30), 0, Info{Type: TypeWebP, Width: 50, Height: 30, Frames: 1}},
		{"webp still VP8X", hostile.WebPStill(64, 48, 64, 48), 0, Info{Type: TypeWebP, Width: 64, Height: 48, Frames: 1}},
		{"webp animation with an offset frame", hostile.WebPAnim(64, 64, hostile.WebPFrame{W: 64, H: 64}, hostile.WebPFrame{X: 2, Y: 4, W: 32, H: 32}), 0,
			Info{Type: TypeWebP, Width: 64, Height: 64, Frames: 2}},
		{"webp animation frame touching the canvas edge", hostile.WebPAnimFrameBeyondCanvas(64, 64, 32, 32, 32, 32), 0,
			Info{Type: TypeWebP, Width: 64, Height: 64, Frames: 1}},
		{"heif still with irot", hostile.HEIFFile(hostile.HEIFSpec{Primary: 1, Items: []hostile.HEIFItem{{ID: 1, Type: "hvc1", Props: []int{1, 2, 3}}},
			Props: [][]byte{hostile.HvcCBox(), hostile.IspeBox(300, 200), hostile.IrotBox(1)}}), 0,
			Info{Type: TypeHEIF, Width: 300, Height: 200, Frames: 1, Orientation: 8}},
		{"heif major mif1 is heif", hostile.HEIFStill("mif1", []string{"mif1", "avif"}, 64, 32), 0,
			Info{Type: TypeHEIF, Width: 64, Height: 32, Frames: 1}},
		{"heif major avif is avif", hostile.HEIFStill("avif", []string{"mif1", "avif"}, 64, 32), 0,
			Info{Type: TypeAVIF, Width: 64, Height: 32, Frames: 1}},
		{"heif grid 8x6 tiles of 512x512", hostile.HEIFGrid(hostile.HEIFGridSpec{Rows: 6, Cols: 8, OutW: 4032, OutH: 3024, Tiles: []hostile.HEIFTile{{W: 512, H: 512}}}), 0,
			Info{Type: TypeHEIF, Width: 4032, Height: 3024, Frames: 1}},
		{"heif grid, tiles at exactly the limit", hostile.HEIFGrid(hostile.HEIFGridSpec{Rows: 2, Cols: 2, OutW: 1000, OutH: 1000, Tiles: []hostile.HEIFTile{{W: 500, H: 500}}}), 1000 * 1000,
			Info{Type: TypeHEIF, Width: 1000, Height: 1000, Frames: 1}},
		{"heif grid with 32-bit payload fields", hostile.HEIFGrid(hostile.HEIFGridSpec{Rows: 2, Cols: 2, OutW: 1000, OutH: 900, Wide: true, Tiles: []hostile.HEIFTile{{W: 500, H: 450}}}), 0,
			Info{Type: TypeHEIF, Width: 1000, Height: 900, Frames: 1}},
		{"heif grid, payload out of reach: its ispe", hostile.HEIFGrid(hostile.HEIFGridSpec{Rows: 1, Cols: 1, OutW: 60000, OutH: 60000, IspeW: 512, IspeH: 512,
			Tiles: []hostile.HEIFTile{{W: 512, H: 512}}, PayloadOutOfReach: true}), 0,
			Info{Type: TypeHEIF, Width: 512, Height: 512, Frames: 1}},
		{"heif overlay of two images", hostile.HEIFOverlay(300, 200, [2]int{300, 200}, [2]int{100, 100}), 0,
			Info{Type: TypeHEIF, Width: 300, Height: 200, Frames: 1}},
		{"heif identity", hostile.HEIFDerived("iden", 300, 200, nil, [2]int{300, 200}), 0,
			Info{Type: TypeHEIF, Width: 300, Height: 200, Frames: 1}},
		{"heif grid of 400 tiles listed in reverse", reverseGrid(20, 20), 0,
			Info{Type: TypeHEIF, Width: 1280, Height: 1280, Frames: 1}},
		{"tiff three pages", hostile.TIFFMultiPage([][2]int{{64, 48}, {32, 24}, {16, 12}}), 0,
			Info{Type: TypeTIFF, Width: 64, Height: 48, Frames: 3}},
		{"tiff tiles larger than the image", hostile.TIFFPages([]hostile.TIFFPage{{W: 100, H: 60, TileW: 256, TileH: 256}}), 0,
			Info{Type: TypeTIFF, Width: 100, Height: 60, Frames: 1}},
		{"tiff rgba 16-bit", hostile.TIFFPages([]hostile.TIFFPage{{W: 10, H: 10, Samples: 4, Bits: 16}}), 0,
			Info{Type: TypeTIFF, Width: 10, Height: 10, Frames: 1}},
		{"png grey 1-bit", hostile.PNGWithIHDR(7, 3, 1, 0), 0, Info{Type: TypePNG, Width: 7, Height: 3, Frames: 1}},
		{"png indexed 4-bit", hostile.PNGWithIHDR(7, 3, 4, 3), 0, Info{Type: TypePNG, Width: 7, Height: 3, Frames: 1}},
		{"png interlaced rgba 16-bit", hostile.PNGWithIHDRFields(7, 3, 16, 6, 0, 0, 1), 0, Info{Type: TypePNG, Width: 7, Height: 3, Frames: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			maxPixels := tc.maxPixels
			if maxPixels == 0 {
				maxPixels = hostileLimit
			}
			want := tc.want
			want.ContentType = contentTypes[want.Type]
			if want.Orientation == 0 {
				want.Orientation = 1
			}
			got, err := Probe(tc.data, maxPixels)
			got.BytesPerPixel = 0 // TestProbeDecodeBudget checks it
			if err != nil || got != want {
				t.Fatalf("Probe(%d bytes, %d) = %+v, %v; want %+v", len(tc.data), maxPixels, got, err, want)
			}
		})
	}
}

// reverseGrid is a grid of rows x cols 64x64 tiles whose dimg reference
// lists them in reverse order of their item IDs.
func reverseGrid(rows, cols int) []byte {
	b := hostile.HEIFGrid(hostile.HEIFGridSpec{Rows: rows, Cols: cols, OutW: 64 * cols, OutH: 64 * rows, Tiles: []hostile.HEIFTile{{W: 64, H: 64}}})
	i := bytes.Index(b, []byte("dimg"))
	n := int(binary.BigEndian.Uint16(b[i+6:]))
	ids := b[i+8 : i+8+2*n]
	for a, z := 0, n-1; a < z; a, z = a+1, z-1 {
		ids[2*a], ids[2*a+1], ids[2*z], ids[2*z+1] = ids[2*z], ids[2*z+1], ids[2*a], ids[2*a+1]
	}
	return b
}

// TestProbeBoundedWork: a grid whose 4000 tiles are listed against the
// order of every table would need millions of lookups; Probe gives up
// within its step budget instead of spending them.
func TestProbeBoundedWork(t *testing.T) {
	t.Parallel()
	data := reverseGrid(50, 80)
	start := time.Now()
	_, err := Probe(data, -1)
	if !errors.Is(err, ErrNotAnImage) || !strings.Contains(err.Error(), "too many items") {
		t.Fatalf("Probe(grid of 4000 tiles in reverse order) = %v; want ErrNotAnImage, too many items to verify", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Probe(grid of 4000 tiles in reverse order) took %v; want well under 2s", d)
	}
}

// TestProbeTruncations cuts good files at several points: Probe either
// refuses the cut (with a sentinel) or reads the same header, never a
// different type or size.
func TestProbeTruncations(t *testing.T) {
	t.Parallel()
	sources := map[string][]byte{
		"jpeg":          testdata(t, "photo-1600x2400-baseline.jpg"),
		"png":           testdata(t, "p6.png"),
		"gif":           testdata(t, "cover-240x360-animated-6frames.gif"),
		"webp":          testdata(t, "cover-1200x1800-lossy.webp"),
		"webp alpha":    testdata(t, "cover-800x1200-alpha.webp"),
		"webp animated": testdata(t, "cover-240x360-animated-4frames.webp"),
		"avif":          testdata(t, "cover-1200x1800.avif"),
		"heic":          testdata(t, "cover-1200x1800.heic"),
		"tiff":          hostile.TIFFMultiPage([][2]int{{64, 48}, {32, 24}}),
		"heif grid":     hostile.HEIFGrid(hostile.HEIFGridSpec{Rows: 2, Cols: 2, OutW: 1024, OutH: 1024, Tiles: []hostile.HEIFTile{{W: 512, H: 512}}}),
	}
	for name, data := range sources {
		full, err := Probe(data, hostileLimit)
		if err != nil {
			t.Fatalf("Probe(%s, whole) = %v", name, err)
		}
		for _, cut := range truncations(data) {
			got, err := Probe(cut, hostileLimit)
			if err != nil {
				if !errors.Is(err, ErrNotAnImage) {
					t.Errorf("Probe(%s cut to %d of %d bytes) = %v; want ErrNotAnImage or the whole file's header", name, len(cut), len(data), err)
				}
				continue
			}
			if got.Type != full.Type || got.Width != full.Width || got.Height != full.Height || got.Frames > full.Frames {
				t.Errorf("Probe(%s cut to %d of %d bytes) = %+v; want the whole file's %+v", name, len(cut), len(data), got, full)
			}
		}
	}
}

// TestProbeAgreesWithLibvips loads generated files with libvips 8.14 in
// process and compares the size its loader reports with Probe's: where
// Probe accepts, the sizes match; where Probe refuses, either libvips
// refuses too, or the test says what libvips would have done. Only headers
// are read for the large cases; small ones are decoded as well.
func TestProbeAgreesWithLibvips(t *testing.T) {
	t.Parallel()
	coded := avifCodedImage(t, 64, 64)
	tests := []struct {
		name string
		data []byte
		// vipsW, vipsH: the size libvips' loader reports; 0 when it must
		// refuse the file.
		vipsW, vipsH int
		// decode: decode the pixels too; decodeFails: the decode must fail.
		decode, decodeFails bool
		// probeErr: Probe's answer (nil: it accepts with libvips' size).
		probeErr error
	}{
		// A 34-byte GIF: libvips reports a 40000x40000 canvas (6.4 GB once
		// decoded; only the header is read here).
		{name: "gif 16x16 screen, first frame 40000x40000", data: hostile.GIFFrameBeyondScreen(16, 16, 40000, 40000), vipsW: 40000, vipsH: 40000, probeErr: ErrTooManyPixels},
		{name: "gif 16x16 screen, first frame 30x20 at (10,5)", data: hostile.GIFWithFrames(16, 16, hostile.GIFFrame{Left: 10, Top: 5, W: 30, H: 20}), vipsW: 40, vipsH: 25, decode: true},
		{name: "gif 640x480 screen, frame 100x50", data: hostile.GIFFrameBeyondScreen(640, 480, 100, 50), vipsW: 100, vipsH: 50, decode: true},
		{name: "gif 3000x10 screen, frame 10x10", data: hostile.GIFFrameBeyondScreen(3000, 10, 10, 10), vipsW: 10, vipsH: 10, decode: true},
		{name: "gif 0x0 screen, frame 8x8", data: hostile.GIFFrameBeyondScreen(0, 0, 8, 8), vipsW: 8, vipsH: 8, decode: true},
		{name: "gif second frame 100x100 on 16x16", data: hostile.GIFWithFrames(16, 16, hostile.GIFFrame{W: 16, H: 16}, hostile.GIFFrame{W: 100, H: 100}), vipsW: 16, vipsH: 16, decode: true},
		{name: "cover-400x600-static.gif", data: testdata(t, "cover-400x600-static.gif"), vipsW: 400, vipsH: 600},

		{name: "webp lossless 50x30", data: hostile.WebPLossless(50, 30), vipsW: 50, vipsH: 30, decode: true},
		{name: "webp still VP8X 64x48", data: hostile.WebPStill(64, 48, 64, 48), vipsW: 64, vipsH: 48, decode: true},
		{name: "webp still VP8X 64x64 holding 32x32", data: hostile.WebPStill(64, 64, 32, 32), probeErr: ErrNotAnImage},
		{name: "webp still VP8X 64x64 holding 16000x16000", data: hostile.WebPStill(64, 64, 16000, 16000), probeErr: ErrNotAnImage},
		{name: "webp animation, two frames in the canvas", data: hostile.WebPAnim(64, 64, hostile.WebPFrame{W: 64, H: 64}, hostile.WebPFrame{X: 2, Y: 4, W: 32, H: 32}), vipsW: 64, vipsH: 64, decode: true},
		{name: "webp animation frame beyond the canvas", data: hostile.WebPAnimFrameBeyondCanvas(64, 64, 32, 32, 48, 48), probeErr: ErrNotAnImage},
		{name: "webp animation frame bitstream 4000x4000 beyond the canvas", data: hostile.WebPAnim(64, 64, hostile.WebPFrame{W: 16, H: 16, BitW: 4000, BitH: 4000}), probeErr: ErrNotAnImage},
		// libwebp decodes the bitstream's size and ignores the ANMF header's;
		// Probe refuses the disagreement rather than pick one.
		{name: "webp animation ANMF 16x16, bitstream 40x40", data: hostile.WebPAnim(64, 64, hostile.WebPFrame{W: 16, H: 16, BitW: 40, BitH: 40}), vipsW: 64, vipsH: 64, decode: true, probeErr: ErrNotAnImage},
		{name: "cover-240x360-animated-4frames.webp", data: testdata(t, "cover-240x360-animated-4frames.webp"), vipsW: 240, vipsH: 360},

		{name: "cover-1200x1800.avif", data: testdata(t, "cover-1200x1800.avif"), vipsW: 1200, vipsH: 1800},
		{name: "cover-1200x1800.heic", data: testdata(t, "cover-1200x1800.heic"), vipsW: 1200, vipsH: 1800},
		{name: "avif grid 3x2 of 64x64 tiles", data: hostile.HEIFGrid(hostile.HEIFGridSpec{Rows: 2, Cols: 3, OutW: 192, OutH: 128, Coded: coded}), vipsW: 192, vipsH: 128, decode: true},
		{name: "avif grid cropped to 150x100", data: hostile.HEIFGrid(hostile.HEIFGridSpec{Rows: 2, Cols: 3, OutW: 150, OutH: 100, Coded: coded}), vipsW: 150, vipsH: 100, decode: true},
		// libvips reports the ispe, libheif decodes the payload's size and
		// libvips then fails: the payload is what gets allocated.
		{name: "avif grid payload 300x200, ispe 150x100", data: hostile.HEIFGrid(hostile.HEIFGridSpec{Rows: 2, Cols: 3, OutW: 300, OutH: 200, IspeW: 150, IspeH: 100, Coded: coded}), vipsW: 150, vipsH: 100, decodeFails: true},

		// libvips decodes page 0 only; Probe holds every page to the limits.
		{name: "tiff 64x48 then 40000x40000", data: hostile.TIFFMultiPage([][2]int{{64, 48}, {40000, 40000}}), vipsW: 64, vipsH: 48, decode: true, probeErr: ErrTooManyPixels},
		{name: "tiff 100x60 in 256x256 tiles", data: hostile.TIFFPages([]hostile.TIFFPage{{W: 100, H: 60, TileW: 256, TileH: 256}}), vipsW: 100, vipsH: 60, decode: true},
		{name: "tiff 100x60 rgb", data: hostile.TIFFPages([]hostile.TIFFPage{{W: 100, H: 60, Samples: 3}}), vipsW: 100, vipsH: 60, decode: true},
		{name: "generated 800x1200 tiff", data: tiff800x1200(t), vipsW: 800, vipsH: 1200},

		{name: "png IHDR CRC wrong", data: hostile.PNGBadCRC(hostile.PNGGrey(8, 8)), probeErr: ErrNotAnImage},
		{name: "png truecolour at 4 bits", data: hostile.PNGWithIHDR(8, 8, 4, 2), probeErr: ErrNotAnImage},
		{name: "generated 1000x1500 16-bit png", data: png16bit1000x1500(t), vipsW: 1000, vipsH: 1500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			info, perr := Probe(tc.data, hostileLimit)
			switch {
			case tc.probeErr != nil && !errors.Is(perr, tc.probeErr):
				t.Errorf("Probe(%d bytes) = %+v, %v; want error %v", len(tc.data), info, perr, tc.probeErr)
			case tc.probeErr == nil && (perr != nil || info.Width != tc.vipsW || info.Height != tc.vipsH):
				t.Errorf("Probe(%d bytes) = %+v, %v; want libvips' %dx%d", len(tc.data), info, perr, tc.vipsW, tc.vipsH)
			}

			img, err := vips.NewImageFromBuffer(tc.data)
			if tc.vipsW == 0 {
				if err == nil {
					t.Errorf("libvips loaded the file as %dx%d; want it refused", img.Width(), img.Height())
					img.Close()
				}
				return
			}
			if err != nil {
				t.Fatalf("libvips load (%d bytes) = %v; want %dx%d", len(tc.data), err, tc.vipsW, tc.vipsH)
			}
			defer img.Close()
			if img.Width() != tc.vipsW || img.Height() != tc.vipsH {
				t.Errorf("libvips reports %dx%d; want %dx%d", img.Width(), img.Height(), tc.vipsW, tc.vipsH)
			}
			if tc.decode || tc.decodeFails {
				_, err := img.ToBytes()
				if tc.decode && err != nil {
					t.Errorf("libvips decode of the %dx%d image = %v; want the pixels", tc.vipsW, tc.vipsH, err)
				}
				if tc.decodeFails && err == nil {
					t.Errorf("libvips decoded the %dx%d image; want a failure", tc.vipsW, tc.vipsH)
				}
			}
		})
	}
}

// TestISOBMFFMajorBrandDecidesTheLoader: libvips' own sniffing (as
// vips_thumbnail_buffer does it) hands an AVIF to heifload when its major
// brand is one heifload lists, and to some other loader otherwise, however
// its compatible brands read. Probe classifies the same way.
func TestISOBMFFMajorBrandDecidesTheLoader(t *testing.T) {
	t.Parallel()
	avif := testdata(t, "cover-1200x1800.avif")
	tests := []struct {
		brand string
		want  SourceType // "" when Probe must refuse
	}{
		{"avif", TypeAVIF},
		{"mif1", TypeHEIF},
		{"avis", ""},
		{"isom", ""},
		{"mp42", ""},
	}
	for _, tc := range tests {
		t.Run(tc.brand, func(t *testing.T) {
			t.Parallel()
			data := hostile.WithMajorBrand(avif, tc.brand)
			info, err := Probe(data, hostileLimit)
			if tc.want == "" && !errors.Is(err, ErrNotAnImage) {
				t.Errorf("Probe(avif with major brand %s) = %+v, %v; want ErrNotAnImage", tc.brand, info, err)
			}
			if tc.want != "" && (err != nil || info.Type != tc.want) {
				t.Errorf("Probe(avif with major brand %s) = %+v, %v; want type %s", tc.brand, info, err, tc.want)
			}
			img, err := vips.LoadThumbnailFromBuffer(data, 32, 32, vips.InterestingNone, vips.SizeBoth, nil)
			loader := ""
			if err == nil {
				loader = img.GetString("vips-loader")
				img.Close()
			}
			if heif := loader == "heifload_buffer"; heif != (tc.want != "") {
				t.Errorf("libvips thumbnail of avif with major brand %s: loader %q, error %v; want heifload_buffer %v", tc.brand, loader, firstLine(err), tc.want != "")
			}
		})
	}
}

// firstLine is the first line of an error (govips appends a stack).
func firstLine(err error) string {
	if err == nil {
		return "<nil>"
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// TestProbeDoesNotAllocate: on success Probe allocates nothing, whatever
// the format or the number of frames, pages or tiles.
func TestProbeDoesNotAllocate(t *testing.T) {
	sources := map[string][]byte{
		"jpeg":          testdata(t, "photo-exif-orientation-6.jpg"),
		"png":           testdata(t, "p6.png"),
		"gif":           testdata(t, "cover-240x360-animated-6frames.gif"),
		"webp":          testdata(t, "cover-800x1200-alpha.webp"),
		"webp animated": testdata(t, "cover-240x360-animated-4frames.webp"),
		"avif":          testdata(t, "cover-1200x1800.avif"),
		"heic":          testdata(t, "cover-1200x1800.heic"),
		"heif grid":     hostile.HEIFGrid(hostile.HEIFGridSpec{Rows: 6, Cols: 8, OutW: 4032, OutH: 3024, Tiles: []hostile.HEIFTile{{W: 512, H: 512}}}),
		"tiff":          hostile.TIFFMultiPage([][2]int{{64, 48}, {32, 24}, {16, 12}}),
	}
	for name, data := range sources {
		if _, err := Probe(data, hostileLimit); err != nil {
			t.Fatalf("Probe(%s) = %v", name, err)
		}
		if n := testing.AllocsPerRun(20, func() { Probe(data, hostileLimit) }); n != 0 {
			t.Errorf("Probe(%s) allocates %.0f times per call; want 0", name, n)
		}
	}
}

func TestInfoDisplaySize(t *testing.T) {
	t.Parallel()
	for o := 1; o <= 8; o++ {
		w, h := Info{Width: 360, Height: 240, Orientation: o}.DisplaySize()
		wantW, wantH := 360, 240
		if o >= 5 {
			wantW, wantH = 240, 360
		}
		if w != wantW || h != wantH {
			t.Errorf("Info{360x240, orientation %d}.DisplaySize() = %dx%d; want %dx%d", o, w, h, wantW, wantH)
		}
	}
}

// FuzzProbe checks properties that hold for any input: no panic, either a
// sentinel error or an Info within the limits.
func FuzzProbe(f *testing.F) {
	for _, name := range []string{"photo-1600x2400-baseline.jpg", "photo-exif-orientation-6.jpg", "cover-800x1200-alpha.png",
		"cover-240x360-animated-6frames.gif", "cover-1200x1800.avif"} {
		b := testdata(f, name)
		f.Add(b[:min(len(b), 2048)])
	}
	for _, b := range [][]byte{pngHeader(30000, 30000), gifHeader(3, 2), jpegHeader(10, 10), webpVP8X(5, 5),
		tiffHeaderBytes(4, 4, 8), []byte("<svg/>"), nil,
		hostile.GIFWithFrames(16, 16, hostile.GIFFrame{Left: 3, Top: 2, W: 20, H: 20}, hostile.GIFFrame{W: 4, H: 4}),
		hostile.WebPAnim(64, 64, hostile.WebPFrame{W: 64, H: 64}, hostile.WebPFrame{X: 2, Y: 2, W: 8, H: 8}),
		hostile.HEIFGrid(hostile.HEIFGridSpec{Rows: 2, Cols: 2, OutW: 100, OutH: 100, Tiles: []hostile.HEIFTile{{W: 50, H: 50}}}),
		hostile.TIFFPages([]hostile.TIFFPage{{W: 8, H: 8, TileW: 16, TileH: 16}, {W: 4, H: 4, Samples: 3}})} {
		f.Add(b)
	}
	const limit = 1 << 24
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Probe(data, limit)
		if err != nil {
			if !errors.Is(err, ErrNotAnImage) && !errors.Is(err, ErrUnsupportedType) && !errors.Is(err, ErrTooManyPixels) {
				t.Fatalf("Probe error %v wraps no sentinel", err)
			}
			return
		}
		switch {
		case info.Width < 1 || info.Height < 1 || info.Width > MaxSide || info.Height > MaxSide:
			t.Fatalf("Probe accepted side %dx%d", info.Width, info.Height)
		case int64(info.Width)*int64(info.Height) > limit:
			t.Fatalf("Probe accepted %dx%d over %d pixels", info.Width, info.Height, limit)
		case info.ContentType == "" || contentTypes[info.Type] != info.ContentType:
			t.Fatalf("Probe type %q content type %q", info.Type, info.ContentType)
		case info.Frames < 1 || info.Frames > maxFrames:
			t.Fatalf("Probe frames %d", info.Frames)
		case info.Orientation < 1 || info.Orientation > 8:
			t.Fatalf("Probe orientation %d", info.Orientation)
		}
	})
}

// TestProbeReadsLibvipsOutputs: what libvips writes (the renders Probe also
// reads back, in tests and tools) probes to the size it was written at.
func TestProbeReadsLibvipsOutputs(t *testing.T) {
	t.Parallel()
	src, err := vips.NewImageFromBuffer(testdata(t, "cover-800x1200-alpha.png"))
	if err != nil {
		t.Fatalf("load cover-800x1200-alpha.png: %v", err)
	}
	defer src.Close()
	if err := src.Resize(0.25, vips.KernelLanczos3); err != nil {
		t.Fatalf("resize cover-800x1200-alpha.png by 0.25: %v", err)
	}
	exports := []struct {
		name   string
		typ    SourceType
		export func() ([]byte, *vips.ImageMetadata, error)
	}{
		{"webp lossy with alpha", TypeWebP, func() ([]byte, *vips.ImageMetadata, error) { return src.ExportWebp(vips.NewWebpExportParams()) }},
		{"webp lossless", TypeWebP, func() ([]byte, *vips.ImageMetadata, error) {
			p := vips.NewWebpExportParams()
			p.Lossless = true
			return src.ExportWebp(p)
		}},
		{"avif with alpha", TypeAVIF, func() ([]byte, *vips.ImageMetadata, error) { return src.ExportAvif(vips.NewAvifExportParams()) }},
		{"png", TypePNG, func() ([]byte, *vips.ImageMetadata, error) { return src.ExportPng(vips.NewPngExportParams()) }},
		{"tiff", TypeTIFF, func() ([]byte, *vips.ImageMetadata, error) { return src.ExportTiff(vips.NewTiffExportParams()) }},
		{"gif", TypeGIF, func() ([]byte, *vips.ImageMetadata, error) { return src.ExportGIF(vips.NewGifExportParams()) }},
	}
	for _, e := range exports {
		b, _, err := e.export()
		if err != nil {
			t.Fatalf("libvips export %s: %v", e.name, err)
		}
		info, err := Probe(b, hostileLimit)
		if err != nil || info.Type != e.typ || info.Width != 200 || info.Height != 300 {
			t.Errorf("Probe(libvips %s output, %d bytes) = %+v, %v; want %s 200x300", e.name, len(b), info, err, e.typ)
		}
	}
}

// TestTestdataLicences: every file in testdata is listed, with its licence,
// in testdata/LICENSES.md.
func TestTestdataLicences(t *testing.T) {
	t.Parallel()
	list := string(testdata(t, "LICENSES.md"))
	entries, err := os.ReadDir(filepath.Join("..", "testdata"))
	if err != nil {
		t.Fatalf("read testdata: %v", err)
	}
	for _, e := range entries {
		if e.Name() != "LICENSES.md" && !strings.Contains(list, "| `"+e.Name()+"` |") {
			t.Errorf("testdata/%s is not listed in testdata/LICENSES.md", e.Name())
		}
	}
}
