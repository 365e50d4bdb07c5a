package hostile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
)

// MaxPixels is the pixel limit Classes are judged against: the service's
// default (MAX_IMAGE_PIXELS), 50 megapixels.
const MaxPixels = 50_000_000

// The stable job error codes an ingest of a hostile file ends with (the
// codes ingest.Code returns).
const (
	// CodeNotAnImage: not a recognised raster, an inconsistent header, or a
	// file cut short.
	CodeNotAnImage = "not_an_image"
	// CodeTooManyPixels: a decoder would allocate more than MaxPixels (or a
	// side beyond 65535) for some frame, page, tile or canvas.
	CodeTooManyPixels = "too_many_pixels"
	// CodeUnsupportedType: a recognised type the service refuses (SVG).
	CodeUnsupportedType = "unsupported_type"
	// CodeCorruptImage: the header is intact and within the limits and the
	// file is complete, but a full decode fails.
	CodeCorruptImage = "corrupt_image"
)

// Codes lists every code a Case may carry.
var Codes = []string{CodeNotAnImage, CodeTooManyPixels, CodeUnsupportedType, CodeCorruptImage}

// Case is one named hostile file and the job error code an ingest of it
// must end with at MaxPixels.
type Case struct {
	// Name says what the file is; names are unique, even reduced to
	// lowercase letters, digits and dashes, and at most 100 bytes long.
	Name string
	Data []byte
	// Code is one of Codes.
	Code string
	// Truncated marks a cut of a whole file. Which check refuses it first
	// (a header reader, the check that the file is complete, or the
	// decode) depends on where the cut falls; the job ends with Code
	// either way.
	Truncated bool
}

// Real holds real encoded files, read by the caller from testdata/, that
// Classes cuts and corrupts: a baseline JPEG, a PNG, a GIF, a WebP, an AVIF
// and a HEIC, each decodable whole. A nil field leaves the classes made from
// it out.
type Real struct {
	JPEG, PNG, GIF, WebP, AVIF, HEIC []byte
}

// RealFiles names the testdata/ file ReadReal reads for each field of Real.
var RealFiles = struct{ JPEG, PNG, GIF, WebP, AVIF, HEIC string }{
	JPEG: "photo-1600x2400-baseline.jpg",
	PNG:  "cover-800x1200-alpha.png",
	GIF:  "cover-240x360-animated-6frames.gif",
	WebP: "cover-1200x1800-lossy.webp",
	AVIF: "cover-1200x1800.avif",
	HEIC: "cover-1200x1800.heic",
}

// ReadReal reads the files RealFiles names from dir (the repository's
// testdata directory).
func ReadReal(dir string) (Real, error) {
	var r Real
	for _, f := range []struct {
		dst  *[]byte
		name string
	}{
		{&r.JPEG, RealFiles.JPEG}, {&r.PNG, RealFiles.PNG}, {&r.GIF, RealFiles.GIF},
		{&r.WebP, RealFiles.WebP}, {&r.AVIF, RealFiles.AVIF}, {&r.HEIC, RealFiles.HEIC},
	} {
		b, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			return Real{}, fmt.Errorf("hostile: read real file: %w", err)
		}
		*f.dst = b
	}
	return r, nil
}

// Classes lists one or more files of every hostile class the service
// defends against, each with the code an ingest of it must end with at
// MaxPixels: generated ones first (no decoder would ever get to see them),
// then cuts and corruptions of the files in files. Every call builds new
// slices.
func Classes(files Real) []Case {
	var cs []Case
	add := func(name, code string, data []byte) { cs = append(cs, Case{Name: name, Data: data, Code: code}) }
	const (
		notImage    = CodeNotAnImage
		tooMany     = CodeTooManyPixels
		unsupported = CodeUnsupportedType
		corrupt     = CodeCorruptImage
	)

	// Nothing at all: no type to recognise.
	add("empty file", notImage, []byte{})

	// SVG: vector input is refused by type (scripts, external references
	// and entity expansion are the renderer's problem we do not take on).
	add("svg with a script", unsupported, SVG(400, 600))
	add("svg billion laughs behind a BOM and an XML declaration", unsupported, SVGEntityBomb())

	// GIF frame bombs: libnsgif sizes its canvas from the logical screen
	// AND the first frame, and decodes every later frame too, so each
	// frame's extent counts, not the screen's. A 34-byte file can ask for a
	// 6.4 GB canvas.
	add("gif 16x16 screen, first frame 40000x40000", tooMany, GIFFrameBeyondScreen(16, 16, 40000, 40000))
	add("gif 16x16 screen, first frame 8000x8000 (64 MP)", tooMany, GIFFrameBeyondScreen(16, 16, 8000, 8000))
	add("gif second frame 40000x40000", tooMany, GIFWithFrames(16, 16, GIFFrame{W: 16, H: 16}, GIFFrame{W: 40000, H: 40000}))
	add("gif frame offset past the side limit", tooMany, GIFWithFrames(16, 16, GIFFrame{Left: 65535, W: 2, H: 2}))
	add("gif screen 30000x30000, tiny frame", tooMany, GIFFrameBeyondScreen(30000, 30000, 1, 1))
	// A frame descriptor with no image data after it: not a whole GIF.
	add("gif descriptor only, no frame data", notImage, GIFDescriptorOnly(16, 16, 8, 8))

	// WebP frame bombs and disagreements: the VP8X canvas, every ANMF frame
	// and the bitstream each frame or still holds must agree, since libwebp
	// allocates what the bitstream says; where they disagree nothing tells
	// what a decoder will allocate, so the file is refused.
	add("webp animation frame beyond the canvas", notImage, WebPAnimFrameBeyondCanvas(64, 64, 32, 32, 48, 48))
	add("webp animation frame 20000x20000 in a 64x64 canvas", tooMany, WebPAnimFrameBeyondCanvas(64, 64, 0, 0, 20000, 20000))
	add("webp animation second frame beyond the canvas", notImage, WebPAnim(64, 64, WebPFrame{W: 64, H: 64}, WebPFrame{X: 2, W: 64, H: 64}))
	add("webp animation ANMF header 16x16, bitstream 4000x4000", notImage, WebPAnim(64, 64, WebPFrame{W: 16, H: 16, BitW: 4000, BitH: 4000}))
	add("webp animation canvas 30000x30000", tooMany, WebPAnim(30000, 30000, WebPFrame{W: 16, H: 16}))
	add("webp animation flag, no frame", notImage, WebPAnim(64, 64))
	add("webp still VP8X 64x64 holding a 16000x16000 bitstream", notImage, WebPStill(64, 64, 16000, 16000))
	add("webp still VP8X 64x64 holding a 32x32 bitstream", notImage, WebPStill(64, 64, 32, 32))
	add("webp still VP8X without a bitstream", notImage, WebPStill(64, 64, 0, 0))

	// Loader confusion: libvips hands an ISO-BMFF file to heifload by its
	// major brand only; with any other major brand, or no meta box, some
	// other loader would sniff the bytes behind the ftyp box (TGA has no
	// magic at all). Such files are not images we take.
	add("tga behind ftyp isom, compatible mif1", notImage, ISOBMFFWrapping("isom", []string{"mif1", "heic"}, TGA(4, 4)))
	add("png behind ftyp mp42, compatible avif", notImage, ISOBMFFWrapping("mp42", []string{"avif", "mif1"}, PNGGrey(4, 4)))
	add("tga behind ftyp mif1 (no meta box)", notImage, ISOBMFFWrapping("mif1", []string{"mif1", "heic"}, TGA(4, 4)))
	add("ftyp box of 2056 bytes", notImage, ISOBMFFWrapping("heic", make([]string, 510), nil))
	add("heic, no compatible brand libheif supports", notImage, HEIFStill("heic", []string{"msf1"}, 64, 64))

	// HEIF items: the primary item must resolve to a visible image item
	// with an ispe, or nothing says what a decoder will allocate.
	add("heif primary item without ispe", notImage, HEIFFile(HEIFSpec{Primary: 1,
		Items: []HEIFItem{{ID: 1, Type: "hvc1", Props: []int{1}}}, Props: [][]byte{HvcCBox()}}))
	add("heif primary item missing from iinf", notImage, HEIFFile(HEIFSpec{Primary: 7,
		Items: []HEIFItem{{ID: 1, Type: "hvc1", Props: []int{1, 2}}}, Props: [][]byte{HvcCBox(), IspeBox(64, 64)}}))
	add("heif primary item hidden", notImage, HEIFFile(HEIFSpec{Primary: 1,
		Items: []HEIFItem{{ID: 1, Type: "hvc1", Hidden: true, Props: []int{1, 2}}}, Props: [][]byte{HvcCBox(), IspeBox(64, 64)}}))
	add("heif primary item of type Exif", notImage, HEIFFile(HEIFSpec{Primary: 1,
		Items: []HEIFItem{{ID: 1, Type: "Exif", Props: []int{1}}}, Props: [][]byte{IspeBox(64, 64)}}))
	add("heif primary ispe 40000x40000", tooMany, HEIFStill("heic", nil, 40000, 40000))
	add("heif primary with a huge ispe before a small one", tooMany, HEIFFile(HEIFSpec{Primary: 1,
		Items: []HEIFItem{{ID: 1, Type: "hvc1", Props: []int{1, 2, 3}}}, Props: [][]byte{HvcCBox(), IspeBox(60000, 60000), IspeBox(64, 64)}}))

	// HEIF grids, overlays and identities over the limit: libheif
	// allocates the payload's output canvas AND decodes every referenced
	// tile, so the output, the ispe and the sum of the tiles all count.
	tile := []HEIFTile{{W: 512, H: 512}}
	add("heif grid 15x15 tiles of 512x512 (59 MP), output 4096x4096", tooMany, HEIFGrid(HEIFGridSpec{Rows: 15, Cols: 15, OutW: 4096, OutH: 4096, Tiles: tile}))
	add("heif grid output 60000x60000 (payload), ispe 1024x1024", tooMany, HEIFGrid(HEIFGridSpec{Rows: 2, Cols: 2, OutW: 60000, OutH: 60000, IspeW: 1024, IspeH: 1024, Tiles: tile}))
	add("heif grid output 9000x9000 (payload, 32-bit fields), ispe 1024x1024", tooMany, HEIFGrid(HEIFGridSpec{Rows: 2, Cols: 2, OutW: 9000, OutH: 9000, IspeW: 1024, IspeH: 1024, Wide: true, Tiles: tile}))
	add("heif grid one tile 20000x20000", tooMany, HEIFGrid(HEIFGridSpec{Rows: 1, Cols: 2, OutW: 1024, OutH: 512, Tiles: []HEIFTile{{W: 512, H: 512}, {W: 20000, H: 20000}}}))
	add("heif grid tile count differs from rows x columns", notImage, HEIFGrid(HEIFGridSpec{Rows: 2, Cols: 2, OutW: 1024, OutH: 1024, Tiles: tile, Refs: 3}))
	add("heif grid tile without ispe", notImage, HEIFGrid(HEIFGridSpec{Rows: 1, Cols: 1, OutW: 512, OutH: 512, Tiles: []HEIFTile{{W: 512, H: 512, NoIspe: true}}}))
	add("heif grid of grids", notImage, HEIFGrid(HEIFGridSpec{Rows: 1, Cols: 1, OutW: 512, OutH: 512, Tiles: []HEIFTile{{W: 512, H: 512, Type: "grid"}}}))
	add("heif grid, payload out of reach, ispe 60000x60000", tooMany, HEIFGrid(HEIFGridSpec{Rows: 1, Cols: 1, OutW: 512, OutH: 512, IspeW: 60000, IspeH: 60000, Tiles: tile, PayloadOutOfReach: true}))
	add("heif overlay canvas 60000x60000", tooMany, HEIFOverlay(60000, 60000, [2]int{64, 64}))
	add("heif overlay payload canvas 9000x9000, ispe 64x64", tooMany, HEIFDerived("iovl", 64, 64, HEIFOverlayPayload(true, 9000, 9000, 1), [2]int{64, 64}))
	add("heif overlay of 4 images of 4000x4000 (64 MP)", tooMany, HEIFOverlay(4000, 4000, [2]int{4000, 4000}, [2]int{4000, 4000}, [2]int{4000, 4000}, [2]int{4000, 4000}))
	add("heif identity of a 20000x20000 image, ispe 64x64", tooMany, HEIFDerived("iden", 64, 64, nil, [2]int{20000, 20000}))

	// TIFF: libvips decodes page 0, but every page, tile and sample layout
	// is held to the limits (a later page is one page= option away), and an
	// IFD chain that loops is refused rather than followed.
	add("tiff 64x64 then a 40000x40000 page", tooMany, TIFFMultiPage([][2]int{{64, 64}, {40000, 40000}}))
	add("tiff 64x64 then a 10000x10000 page (100 MP)", tooMany, TIFFMultiPage([][2]int{{64, 64}, {64, 64}, {10000, 10000}}))
	add("tiff 64x64 with 65520x65520 tiles", tooMany, TIFFPages([]TIFFPage{{W: 64, H: 64, TileW: 65520, TileH: 65520}}))
	add("tiff 64x64 with 8192x8192 tiles (67 MP)", tooMany, TIFFPages([]TIFFPage{{W: 64, H: 64, TileW: 8192, TileH: 8192}}))
	add("tiff 10 samples per pixel", notImage, TIFFPages([]TIFFPage{{W: 64, H: 64, Samples: 10}}))
	add("tiff 32 bits per sample", notImage, TIFFPages([]TIFFPage{{W: 64, H: 64, Samples: 3, Bits: 32}}))
	add("tiff second page with 64 samples per pixel", notImage, TIFFPages([]TIFFPage{{W: 64, H: 64}, {W: 64, H: 64, Samples: 64}}))
	add("tiff IFD chain looping", notImage, TIFFLoop())

	// PNG: IHDR must be intact (its CRC checks) and sane (a bit depth the
	// colour type allows, known methods).
	add("png IHDR CRC wrong", notImage, PNGBadCRC(PNGGrey(64, 64)))
	add("png truecolour at 4 bits", notImage, PNGWithIHDR(64, 64, 4, 2))
	add("png colour type 5", notImage, PNGWithIHDR(64, 64, 8, 5))
	add("png interlace method 2", notImage, PNGWithIHDRFields(64, 64, 8, 2, 0, 0, 2))

	// Truncated bodies of generated files: the header is intact, the file
	// is not complete.
	anim := WebPAnim(240, 360, WebPFrame{W: 240, H: 360}, WebPFrame{W: 240, H: 360})
	cs = append(cs, Case{Name: "animated webp cut after its first frame", Data: anim[:len(anim)-10], Code: notImage, Truncated: true})

	// Complete files a decoder must reject: header and structure are
	// intact and within the limits, the pixel data is missing or broken.
	add("png header with no pixel data", corrupt, PNGWithIHDR(64, 64, 8, 0))
	add("gif 2500x2500 frame with no pixel data", corrupt, GIFFrameBeyondScreen(2500, 2500, 2500, 2500))
	add("webp lossless header with no pixel data", corrupt, WebPLosslessNoPixels(64, 64))
	add("heic still with a stub hvcC and no coded data", corrupt, HEIFStill("heic", nil, 64, 64))
	add("heif grid of 4 stub tiles with no coded data", corrupt, HEIFGrid(HEIFGridSpec{Rows: 2, Cols: 2, OutW: 1024, OutH: 1024, Tiles: tile}))
	add("tiff strip offset past the end of the file", corrupt, TIFFStripPastEnd(64, 64))

	// Real files, cut and corrupted.
	for _, r := range []struct {
		format string
		data   []byte
		// end is where the file's end marker starts (len when it has none).
		end func([]byte) int
		// ok moves a cut that would leave a prefix passing for a whole file.
		ok func(data []byte, n int) int
	}{
		{"jpeg", files.JPEG, jpegEnd, nil},
		{"png", files.PNG, pngEnd, nil},
		{"gif", files.GIF, func(b []byte) int { return len(b) - 1 }, gifCut},
		{"webp", files.WebP, func(b []byte) int { return len(b) }, nil},
		{"avif", files.AVIF, func(b []byte) int { return len(b) }, isobmffCut},
		{"heic", files.HEIC, func(b []byte) int { return len(b) }, isobmffCut},
	} {
		if r.data == nil {
			continue
		}
		for _, c := range cuts(r.data, r.end(r.data), r.ok) {
			cs = append(cs, Case{Name: "real " + r.format + " " + c.label, Data: c.data, Code: notImage, Truncated: true})
		}
	}
	if files.PNG != nil {
		add("real png with IHDR CRC wrong", notImage, PNGBadCRC(files.PNG))
		add("real png with IDAT CRC wrong", corrupt, PNGBadIDATCRC(files.PNG))
	}
	if files.JPEG != nil {
		add("real jpeg with restart markers in its scan", corrupt, JPEGCorruptScan(files.JPEG))
	}
	if files.AVIF != nil {
		add("real avif with major brand avis", notImage, WithMajorBrand(files.AVIF, "avis"))
		add("real avif with major brand isom", notImage, WithMajorBrand(files.AVIF, "isom"))
		add("real avif with its coded data zeroed", corrupt, ZeroMdat(files.AVIF))
		cs = append(cs, Case{Name: "real avif cut where its mdat box starts", Data: CutAtLastBox(files.AVIF), Code: corrupt, Truncated: true})
	}
	if files.HEIC != nil {
		add("real heic with its coded data zeroed", corrupt, ZeroMdat(files.HEIC))
		cs = append(cs, Case{Name: "real heic cut where its mdat box starts", Data: CutAtLastBox(files.HEIC), Code: corrupt, Truncated: true})
	}
	return cs
}

// Truncations cuts data at several points: 1 byte, 10%, 50%, 90% and all
// but one byte, each prefix a copy. Prefixes that are empty or repeat an
// earlier cut are left out.
func Truncations(data []byte) [][]byte {
	var out [][]byte
	for _, c := range cuts(data, len(data), nil) {
		out = append(out, c.data)
	}
	return out
}

// cut is one prefix of a file and how it was cut.
type cut struct {
	label string
	data  []byte
}

// cuts cuts data at 1 byte, 10%, 50% and 90% of end and at end-1, end being
// where data's end marker starts; when end < len(data), also at end (the
// whole file but its end marker). ok, when set, moves each cut to one that
// leaves no prefix passing for a whole file. Empty and repeated prefixes are
// left out.
func cuts(data []byte, end int, ok func([]byte, int) int) []cut {
	points := []struct {
		label string
		n     int
	}{
		{"cut to 1 byte", 1},
		{"cut to 10%", end / 10},
		{"cut to 50%", end / 2},
		{"cut to 90%", end * 9 / 10},
		{"cut 1 byte short", end - 1},
	}
	if end < len(data) {
		points[4].label = "cut 1 byte before its end marker"
		points = append(points, struct {
			label string
			n     int
		}{"without its end marker", end})
	}
	var out []cut
	seen := map[int]bool{0: true, len(data): true}
	for _, p := range points {
		n := p.n
		if ok != nil && n > 0 {
			n = ok(data, n)
		}
		if n > 0 && n < len(data) && !seen[n] {
			seen[n] = true
			out = append(out, cut{p.label, bytes.Clone(data[:n])})
		}
	}
	return out
}

// jpegEnd is where a JPEG's final EOI starts, or len(data).
func jpegEnd(data []byte) int {
	if bytes.HasSuffix(data, []byte{0xFF, 0xD9}) {
		return len(data) - 2
	}
	return len(data)
}

// pngEnd is where a PNG's final IEND chunk starts, or len(data).
func pngEnd(data []byte) int {
	if n := len(data) - 12; n >= 0 && string(data[n+4:n+8]) == "IEND" && binary.BigEndian.Uint32(data[n:]) == 0 {
		return n
	}
	return len(data)
}

// gifCut moves a cut of a GIF back while the prefix's last byte other than
// block terminators is 0x3B: a prefix ending so passes for a GIF ending in
// its trailer.
func gifCut(data []byte, n int) int {
	for {
		m := n
		for m > 0 && data[m-1] == 0 {
			m--
		}
		if m == 0 || data[m-1] != 0x3B {
			return n
		}
		n = m - 1
	}
}

// isobmffCut moves a cut of an ISO-BMFF file that falls on a top-level box
// boundary one byte back: a prefix made of whole boxes passes for a
// complete file, its item data simply out of reach.
func isobmffCut(data []byte, n int) int {
	for _, off := range topLevelBoxes(data) {
		if off == n {
			return n - 1
		}
	}
	return n
}
