package hostile

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"slices"
	"testing"
)

// TestGeneratorsDecodeWithTheStandardLibrary: the generators meant to make
// real files make files Go's own decoders read, and the hostile ones make
// files they refuse.
func TestGeneratorsDecodeWithTheStandardLibrary(t *testing.T) {
	t.Parallel()
	img, err := png.Decode(bytes.NewReader(PNGGrey(30, 20)))
	if err != nil || img.Bounds().Dx() != 30 || img.Bounds().Dy() != 20 {
		t.Errorf("png.Decode(PNGGrey(30, 20)) = %v, %v; want a 30x20 image", img, err)
	}
	for name, data := range map[string][]byte{
		"PNGBadCRC":      PNGBadCRC(PNGGrey(30, 20)),
		"PNGBadIDATCRC":  PNGBadIDATCRC(PNGGrey(30, 20)),
		"PNGWithIHDR":    PNGWithIHDR(30, 20, 8, 0),
		"cut PNGGrey":    Truncations(PNGGrey(30, 20))[2],
		"GIFDescriptor":  GIFDescriptorOnly(16, 16, 8, 8),
		"GIF 2500x2500":  GIFFrameBeyondScreen(2500, 2500, 2500, 2500),
		"GIF beyond 4x4": GIFFrameBeyondScreen(4, 4, 8, 8),
	} {
		if _, _, err := decodeAny(data); err == nil {
			t.Errorf("%s: decoded by the standard library; want an error", name)
		}
	}
	g, err := gif.DecodeAll(bytes.NewReader(GIFWithFrames(16, 16, GIFFrame{W: 16, H: 16}, GIFFrame{Left: 4, Top: 6, W: 8, H: 10})))
	if err != nil || len(g.Image) != 2 || g.Image[1].Bounds().Min.X != 4 || g.Image[1].Bounds().Dy() != 10 {
		t.Errorf("gif.DecodeAll(GIFWithFrames 16x16 + 8x10 at (4,6)) = %v; want 2 frames, the second 8x10 at (4,6)", err)
	}
}

// decodeAny decodes a PNG or a GIF with the standard library.
func decodeAny(data []byte) (int, int, error) {
	if bytes.HasPrefix(data, []byte("GIF")) {
		g, err := gif.DecodeAll(bytes.NewReader(data))
		if err != nil {
			return 0, 0, err
		}
		return g.Config.Width, g.Config.Height, nil
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return 0, 0, err
	}
	return img.Bounds().Dx(), img.Bounds().Dy(), nil
}

func TestContainerSizes(t *testing.T) {
	t.Parallel()
	for name, data := range map[string][]byte{
		"WebPLossless":         WebPLossless(50, 30),
		"WebPStill":            WebPStill(64, 64, 32, 32),
		"WebPAnim":             WebPAnim(64, 64, WebPFrame{W: 64, H: 64}, WebPFrame{X: 2, W: 8, H: 9}),
		"WebPLosslessNoPixels": WebPLosslessNoPixels(64, 64),
	} {
		if n := binary.LittleEndian.Uint32(data[4:8]); int(n)+8 != len(data) || string(data[8:12]) != "WEBP" {
			t.Errorf("%s: RIFF size %d in a %d-byte file; want the file's size less 8", name, n, len(data))
		}
	}
	heif := HEIFGrid(HEIFGridSpec{Rows: 2, Cols: 2, OutW: 1024, OutH: 1024, Tiles: []HEIFTile{{W: 512, H: 512}}})
	for name, data := range map[string][]byte{
		"HEIFStill":   HEIFStill("heic", nil, 64, 64),
		"HEIFGrid":    heif,
		"HEIFOverlay": HEIFOverlay(300, 200, [2]int{300, 200}),
		"ZeroMdat":    ZeroMdat(heif),
	} {
		if offs := topLevelBoxes(data); len(offs) != 4 || offs[3] != len(data) {
			t.Errorf("%s: top-level boxes at %v in a %d-byte file; want ftyp, meta, mdat tiling it", name, offs, len(data))
		}
	}
	avif := slices.Concat(FtypBox("avif", []string{"mif1"}), Box("meta"), Box("mdat", []byte{1, 2, 3}))
	if z := ZeroMdat(avif); len(z) != len(avif) || !bytes.Equal(z[:len(z)-3], avif[:len(avif)-3]) || !bytes.Equal(z[len(z)-3:], []byte{0, 0, 0}) {
		t.Errorf("ZeroMdat = % x; want % x with the mdat payload zeroed", z, avif)
	}
	if c := CutAtLastBox(avif); len(c) != len(avif)-11 {
		t.Errorf("CutAtLastBox(%d bytes) = %d bytes; want %d (no mdat box)", len(avif), len(c), len(avif)-11)
	}
}

// TestTIFFLoop: the second IFD of TIFFLoop links back to the first.
func TestTIFFLoop(t *testing.T) {
	t.Parallel()
	b := TIFFLoop()
	next := func(ifd uint32) uint32 {
		return binary.LittleEndian.Uint32(b[ifd+2+12*uint32(binary.LittleEndian.Uint16(b[ifd:])):])
	}
	first := binary.LittleEndian.Uint32(b[4:8])
	if second := next(first); second == 0 || next(second) != first {
		t.Errorf("TIFFLoop: IFD %d -> %d -> %d; want the second back to the first", first, second, next(second))
	}
}

// TestDeclaredSizes: the files that declare more pixels than they hold
// declare exactly the size asked for to the standard library's decoders,
// and a comment segment leaves a JPEG decodable.
func TestDeclaredSizes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		data   []byte
		config func(io.Reader) (image.Config, error)
		w, h   int
	}{
		{"PNGBomb", PNGBomb(3000, 2000), png.DecodeConfig, 3000, 2000},
		{"JPEGDeclaring", JPEGDeclaring(40000, 30000), jpeg.DecodeConfig, 40000, 30000},
		{"GIFScreen", GIFScreen(30000, 20000), gif.DecodeConfig, 30000, 20000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := c.config(bytes.NewReader(c.data))
			if err != nil || cfg.Width != c.w || cfg.Height != c.h {
				t.Errorf("DecodeConfig = %dx%d, %v; want %dx%d", cfg.Width, cfg.Height, err, c.w, c.h)
			}
		})
	}
	img, err := png.Decode(bytes.NewReader(PNGBomb(64, 16)))
	if err != nil || img.Bounds().Dx() != 64 || img.Bounds().Dy() != 16 {
		t.Errorf("png.Decode(PNGBomb(64, 16)) = %v, %v; want a 64x16 image: the bomb is a complete file", img, err)
	}
	var plain bytes.Buffer
	if err := jpeg.Encode(&plain, Noise(8, 8), nil); err != nil {
		t.Fatal(err)
	}
	commented := JPEGWithComment(plain.Bytes(), "book B1")
	if got, err := jpeg.Decode(bytes.NewReader(commented)); err != nil || got.Bounds().Dx() != 8 || !bytes.Contains(commented, []byte("\xFF\xFE\x00\x09book B1")) {
		t.Errorf("JPEGWithComment: decode %v; want a decodable 8x8 JPEG holding the COM segment", err)
	}
}
