package transform

// Generators of hostile (and a few good) originals, built in code so that
// every test can say exactly what a file declares. Other test files of the
// package call them; none reads files outside testdata/.

import (
	"bytes"
	"compress/lzw"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"testing"

	"github.com/davidbyttow/govips/v2/vips"
)

// hostileLimit is the pixel limit hostileClasses are judged against: the
// default MaxPixels.
const hostileLimit = 50_000_000

// hostileCase is one named hostile input and what Probe must answer.
type hostileCase struct {
	name string
	data []byte
	// want is the sentinel Probe must return at hostileLimit, or nil when
	// Probe legitimately accepts the header and only a decode can find the
	// problem (truncated bodies).
	want error
}

// hostileClasses lists one or more inputs of every hostile class the probes
// defend against, with the sentinel Probe(data, hostileLimit) must return.
func hostileClasses(tb testing.TB) []hostileCase {
	tb.Helper()
	avif := testdata(tb, "cover-1200x1800.avif")
	animWebP := webpAnim(240, 360, webpFrame{w: 240, h: 360}, webpFrame{w: 240, h: 360})
	tile := []heifTile{{w: 512, h: 512}}
	return []hostileCase{
		// GIF: libnsgif sizes its canvas from the logical screen AND the
		// first frame; later frames are clipped but still checked.
		{"gif 16x16 screen, first frame 40000x40000", gifFrameBeyondScreen(16, 16, 40000, 40000), ErrTooManyPixels},
		{"gif 16x16 screen, first frame 8000x8000 (64 MP)", gifFrameBeyondScreen(16, 16, 8000, 8000), ErrTooManyPixels},
		{"gif second frame 40000x40000", gifWithFrames(16, 16, gifFrame{w: 16, h: 16}, gifFrame{w: 40000, h: 40000}), ErrTooManyPixels},
		{"gif frame offset past MaxSide", gifWithFrames(16, 16, gifFrame{left: 65535, w: 2, h: 2}), ErrTooManyPixels},
		{"gif screen 30000x30000, tiny frame", gifFrameBeyondScreen(30000, 30000, 1, 1), ErrTooManyPixels},
		{"gif descriptor only, no frame data", gifFrameBeyondScreen(16, 16, 8, 8)[:13+6+10], ErrNotAnImage},

		// WebP: VP8X canvas, ANMF frames and the still bitstream.
		{"webp animation frame beyond the canvas", webpAnimFrameBeyondCanvas(64, 64, 32, 32, 48, 48), ErrNotAnImage},
		{"webp animation frame 20000x20000 in a 64x64 canvas", webpAnimFrameBeyondCanvas(64, 64, 0, 0, 20000, 20000), ErrTooManyPixels},
		{"webp animation second frame beyond the canvas", webpAnim(64, 64, webpFrame{w: 64, h: 64}, webpFrame{x: 2, w: 64, h: 64}), ErrNotAnImage},
		{"webp animation ANMF header 16x16, bitstream 4000x4000", webpAnim(64, 64, webpFrame{w: 16, h: 16, bitW: 4000, bitH: 4000}), ErrNotAnImage},
		{"webp animation canvas 30000x30000", webpAnim(30000, 30000, webpFrame{w: 16, h: 16}), ErrTooManyPixels},
		{"webp animation flag, no frame", webpAnim(64, 64), ErrNotAnImage},
		{"webp still VP8X 64x64 holding a 16000x16000 bitstream", webpStill(64, 64, 16000, 16000), ErrNotAnImage},
		{"webp still VP8X 64x64 holding a 32x32 bitstream", webpStill(64, 64, 32, 32), ErrNotAnImage},
		{"webp still VP8X without a bitstream", webpStill(64, 64, 0, 0), ErrNotAnImage},

		// ISO-BMFF: only the major brand counts, as in libvips' heifload.
		{"tga behind ftyp isom, compatible mif1", isobmffWrapping("isom", []string{"mif1", "heic"}, tgaImage(4, 4)), ErrNotAnImage},
		{"png behind ftyp mp42, compatible avif", isobmffWrapping("mp42", []string{"avif", "mif1"}, pngImage(tb, 4, 4)), ErrNotAnImage},
		{"tga behind ftyp mif1 (no meta box)", isobmffWrapping("mif1", []string{"mif1", "heic"}, tgaImage(4, 4)), ErrNotAnImage},
		{"avif with major brand avis", withMajorBrand(avif, "avis"), ErrNotAnImage},
		{"avif with major brand isom", withMajorBrand(avif, "isom"), ErrNotAnImage},
		{"ftyp box of 2056 bytes", isobmffWrapping("heic", make([]string, 510), nil), ErrNotAnImage},
		{"heic, no compatible brand libheif supports", heifStill("heic", []string{"msf1"}, 64, 64), ErrNotAnImage},
		{"heif primary item without ispe", heifFile(heifSpec{primary: 1, items: []heifSpecItem{{id: 1, typ: "hvc1", props: []int{1}}}, props: [][]byte{hvcCBox()}}), ErrNotAnImage},
		{"heif primary item missing from iinf", heifFile(heifSpec{primary: 7, items: []heifSpecItem{{id: 1, typ: "hvc1", props: []int{1, 2}}}, props: [][]byte{hvcCBox(), ispeBox(64, 64)}}), ErrNotAnImage},
		{"heif primary item hidden", heifFile(heifSpec{primary: 1, items: []heifSpecItem{{id: 1, typ: "hvc1", hidden: true, props: []int{1, 2}}}, props: [][]byte{hvcCBox(), ispeBox(64, 64)}}), ErrNotAnImage},
		{"heif primary item of type Exif", heifFile(heifSpec{primary: 1, items: []heifSpecItem{{id: 1, typ: "Exif", props: []int{1}}}, props: [][]byte{ispeBox(64, 64)}}), ErrNotAnImage},
		{"heif primary ispe 40000x40000", heifStill("heic", nil, 40000, 40000), ErrTooManyPixels},
		{"heif primary with a huge ispe before a small one", heifFile(heifSpec{primary: 1, items: []heifSpecItem{{id: 1, typ: "hvc1", props: []int{1, 2, 3}}}, props: [][]byte{hvcCBox(), ispeBox(60000, 60000), ispeBox(64, 64)}}), ErrTooManyPixels},
		{"heif grid 15x15 tiles of 512x512 (59 MP), output 4096x4096", heifGrid(heifGridSpec{rows: 15, cols: 15, outW: 4096, outH: 4096, tiles: tile}), ErrTooManyPixels},
		{"heif grid output 60000x60000 (payload), ispe 1024x1024", heifGrid(heifGridSpec{rows: 2, cols: 2, outW: 60000, outH: 60000, ispeW: 1024, ispeH: 1024, tiles: tile}), ErrTooManyPixels},
		{"heif grid output 9000x9000 (payload, 32-bit fields), ispe 1024x1024", heifGrid(heifGridSpec{rows: 2, cols: 2, outW: 9000, outH: 9000, ispeW: 1024, ispeH: 1024, wide: true, tiles: tile}), ErrTooManyPixels},
		{"heif grid one tile 20000x20000", heifGrid(heifGridSpec{rows: 1, cols: 2, outW: 1024, outH: 512, tiles: []heifTile{{w: 512, h: 512}, {w: 20000, h: 20000}}}), ErrTooManyPixels},
		{"heif grid tile count differs from rows x columns", heifGrid(heifGridSpec{rows: 2, cols: 2, outW: 1024, outH: 1024, tiles: tile, refs: 3}), ErrNotAnImage},
		{"heif grid tile without ispe", heifGrid(heifGridSpec{rows: 1, cols: 1, outW: 512, outH: 512, tiles: []heifTile{{w: 512, h: 512, noIspe: true}}}), ErrNotAnImage},
		{"heif grid of grids", heifGrid(heifGridSpec{rows: 1, cols: 1, outW: 512, outH: 512, tiles: []heifTile{{w: 512, h: 512, typ: "grid"}}}), ErrNotAnImage},
		{"heif overlay canvas 60000x60000", heifOverlay(60000, 60000, [2]int{64, 64}), ErrTooManyPixels},
		{"heif overlay payload canvas 9000x9000, ispe 64x64", heifDerivedItem("iovl", 64, 64,
			binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32([]byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, 9000), 9000), [2]int{64, 64}), ErrTooManyPixels},
		{"heif overlay of 4 images of 4000x4000 (64 MP)", heifOverlay(4000, 4000, [2]int{4000, 4000}, [2]int{4000, 4000}, [2]int{4000, 4000}, [2]int{4000, 4000}), ErrTooManyPixels},
		{"heif identity of a 20000x20000 image, ispe 64x64", heifDerivedItem("iden", 64, 64, nil, [2]int{20000, 20000}), ErrTooManyPixels},
		{"heif grid, payload out of reach, ispe 60000x60000", heifGrid(heifGridSpec{rows: 1, cols: 1, outW: 512, outH: 512, ispeW: 60000, ispeH: 60000, tiles: tile, payloadOutOfReach: true}), ErrTooManyPixels},

		// TIFF: every page, tiles and sample layout.
		{"tiff 64x64 then a 40000x40000 page", tiffMultiPage([][2]int{{64, 64}, {40000, 40000}}), ErrTooManyPixels},
		{"tiff 64x64 then a 10000x10000 page (100 MP)", tiffMultiPage([][2]int{{64, 64}, {64, 64}, {10000, 10000}}), ErrTooManyPixels},
		{"tiff 64x64 with 65520x65520 tiles", tiffPages([]tiffPageSpec{{w: 64, h: 64, tileW: 65520, tileH: 65520}}), ErrTooManyPixels},
		{"tiff 64x64 with 8192x8192 tiles (67 MP)", tiffPages([]tiffPageSpec{{w: 64, h: 64, tileW: 8192, tileH: 8192}}), ErrTooManyPixels},
		{"tiff 10 samples per pixel", tiffPages([]tiffPageSpec{{w: 64, h: 64, samples: 10}}), ErrNotAnImage},
		{"tiff 32 bits per sample", tiffPages([]tiffPageSpec{{w: 64, h: 64, samples: 3, bits: 32}}), ErrNotAnImage},
		{"tiff second page with 64 samples per pixel", tiffPages([]tiffPageSpec{{w: 64, h: 64}, {w: 64, h: 64, samples: 64}}), ErrNotAnImage},
		{"tiff IFD chain looping", tiffLoop(), ErrNotAnImage},

		// PNG: IHDR must be intact and sane.
		{"png IHDR CRC wrong", pngBadCRC(tb, 64, 64), ErrNotAnImage},
		{"png truecolour at 4 bits", pngWithIHDR(64, 64, 4, 2), ErrNotAnImage},
		{"png colour type 5", pngWithIHDR(64, 64, 8, 5), ErrNotAnImage},
		{"png interlace method 2", pngWithIHDRBytes(64, 64, 8, 2, 0, 0, 2), ErrNotAnImage},

		// Truncated bodies: the header is intact, only a decode fails.
		{"avif cut in its mdat", avif[:len(avif)*9/10], nil},
		{"animated webp cut after its first frame", animWebP[:len(animWebP)-10], nil},
	}
}

// truncations cuts data at several points: 1 byte, 10%, 50%, 90% and all
// but one byte. Prefixes that are empty or repeat an earlier cut are left
// out.
func truncations(data []byte) [][]byte {
	var out [][]byte
	seen := map[int]bool{0: true, len(data): true}
	for _, n := range []int{1, len(data) / 10, len(data) / 2, len(data) * 9 / 10, len(data) - 1} {
		if n > 0 && !seen[n] {
			seen[n] = true
			out = append(out, data[:n])
		}
	}
	return out
}

// --- GIF ---

// gifFrame is one image descriptor: position and size on the screen.
type gifFrame struct{ left, top, w, h int }

// gifWithFrames builds a GIF89a on a screenW x screenH logical screen with a
// two-colour global table and one image per frame. Frames up to 4 MP carry
// real LZW data of one colour (libnsgif decodes them); larger ones a clear
// code and an end code, which header readers accept and decoders do not.
func gifWithFrames(screenW, screenH int, frames ...gifFrame) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, uint16(screenW))
	b = binary.LittleEndian.AppendUint16(b, uint16(screenH))
	b = append(b, 0x80, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF) // global table: black, white
	for _, f := range frames {
		b = append(b, 0x2C)
		for _, v := range []int{f.left, f.top, f.w, f.h} {
			b = binary.LittleEndian.AppendUint16(b, uint16(v))
		}
		b = append(b, 0, 2) // no local table; LZW minimum code size 2
		var data []byte
		if n := f.w * f.h; n <= 4<<20 {
			var z bytes.Buffer
			w := lzw.NewWriter(&z, lzw.LSB, 2)
			w.Write(make([]byte, n))
			w.Close()
			data = z.Bytes()
		} else {
			data = []byte{0x2C} // 3-bit codes: clear (4), end (5)
		}
		for len(data) > 0 {
			n := min(len(data), 255)
			b = append(b, byte(n))
			b = append(b, data[:n]...)
			data = data[n:]
		}
		b = append(b, 0)
	}
	return append(b, 0x3B)
}

// gifFrameBeyondScreen is a GIF whose logical screen says screenW x screenH
// and whose only frame, at (0,0), is frameW x frameH.
func gifFrameBeyondScreen(screenW, screenH, frameW, frameH int) []byte {
	return gifWithFrames(screenW, screenH, gifFrame{w: frameW, h: frameH})
}

// --- WebP ---

// bitWriter packs bits least significant first, as VP8L reads them.
type bitWriter struct {
	b    []byte
	used uint
}

func (w *bitWriter) write(v uint32, n uint) {
	for i := range n {
		if w.used%8 == 0 {
			w.b = append(w.b, 0)
		}
		w.b[len(w.b)-1] |= byte(v>>i&1) << (w.used % 8)
		w.used++
	}
}

// vp8lChunk is a VP8L chunk of a w x h opaque black image (w, h <= 16384):
// no transform, no colour cache, and five prefix codes of one symbol each,
// so pixels take no bits and any size fits in a few bytes (libwebp decodes
// it).
func vp8lChunk(w, h int) []byte {
	bw := &bitWriter{b: []byte{0x2f}, used: 8}
	bw.write(uint32(w-1), 14)
	bw.write(uint32(h-1), 14)
	bw.write(0, 1)                                  // alpha hint
	bw.write(0, 3)                                  // version
	bw.write(0, 1)                                  // no transform
	bw.write(0, 1)                                  // no colour cache
	bw.write(0, 1)                                  // no meta prefix codes
	for _, sym := range []uint32{0, 0, 0, 255, 0} { // green, red, blue, alpha, distance
		bw.write(1, 1) // simple code
		bw.write(0, 1) // one symbol
		if sym > 1 {
			bw.write(1, 1)
			bw.write(sym, 8)
		} else {
			bw.write(0, 1)
			bw.write(sym, 1)
		}
	}
	return riffChunk("VP8L", bw.b)
}

// riffChunk is a RIFF chunk with its pad byte.
func riffChunk(fourcc string, payload []byte) []byte {
	b := append([]byte(fourcc), binary.LittleEndian.AppendUint32(nil, uint32(len(payload)))...)
	b = append(b, payload...)
	if len(payload)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

// riffWebP wraps chunks in a RIFF WEBP header.
func riffWebP(chunks ...[]byte) []byte {
	body := []byte("WEBP")
	for _, c := range chunks {
		body = append(body, c...)
	}
	return append(binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(len(body))), body...)
}

// vp8xChunk is a VP8X chunk with flags and a w x h canvas.
func vp8xChunk(flags byte, w, h int) []byte {
	p := []byte{flags, 0, 0, 0}
	p = append(p, le24Bytes(w-1)...)
	return riffChunk("VP8X", append(p, le24Bytes(h-1)...))
}

func le24Bytes(v int) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16)} }

// webpLossless is a simple (non-VP8X) lossless WebP of w x h.
func webpLossless(w, h int) []byte { return riffWebP(vp8lChunk(w, h)) }

// webpStill is an extended still WebP: a VP8X canvas of canvasW x canvasH
// holding a lossless bitstream of bitW x bitH (none when bitW is 0).
func webpStill(canvasW, canvasH, bitW, bitH int) []byte {
	chunks := [][]byte{vp8xChunk(0, canvasW, canvasH)}
	if bitW > 0 {
		chunks = append(chunks, vp8lChunk(bitW, bitH))
	}
	return riffWebP(chunks...)
}

// webpFrame is one ANMF frame: its offset (even), the size its header
// declares, and the size of its bitstream (bitW 0: the same).
type webpFrame struct{ x, y, w, h, bitW, bitH int }

// webpAnim is an animated WebP on a canvasW x canvasH canvas.
func webpAnim(canvasW, canvasH int, frames ...webpFrame) []byte {
	chunks := [][]byte{vp8xChunk(0x02, canvasW, canvasH), riffChunk("ANIM", make([]byte, 6))}
	for _, f := range frames {
		bw, bh := f.bitW, f.bitH
		if bw == 0 {
			bw, bh = f.w, f.h
		}
		p := le24Bytes(f.x / 2)
		p = append(p, le24Bytes(f.y/2)...)
		p = append(p, le24Bytes(f.w-1)...)
		p = append(p, le24Bytes(f.h-1)...)
		p = append(p, le24Bytes(100)...) // duration
		p = append(p, 0)
		chunks = append(chunks, riffChunk("ANMF", append(p, vp8lChunk(bw, bh)...)))
	}
	return riffWebP(chunks...)
}

// webpAnimFrameBeyondCanvas is an animated WebP whose one frame of
// frameW x frameH sits at (frameX, frameY) of a canvasW x canvasH canvas.
func webpAnimFrameBeyondCanvas(canvasW, canvasH, frameX, frameY, frameW, frameH int) []byte {
	return webpAnim(canvasW, canvasH, webpFrame{x: frameX, y: frameY, w: frameW, h: frameH})
}

// --- ISO-BMFF ---

// bmffBox is an ISO-BMFF box.
func bmffBox(typ string, payload ...[]byte) []byte {
	n := 8
	for _, p := range payload {
		n += len(p)
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(n))
	b = append(b, typ...)
	for _, p := range payload {
		b = append(b, p...)
	}
	return b
}

// fullBox is an ISO-BMFF full box: version, flags, payload.
func fullBox(typ string, version byte, flags uint32, payload ...[]byte) []byte {
	vf := binary.BigEndian.AppendUint32(nil, uint32(version)<<24|flags&0xFFFFFF)
	return bmffBox(typ, append([][]byte{vf}, payload...)...)
}

// ftypBox is an ftyp box with a major brand, minor version 0 and the
// compatible brands (each padded or cut to four bytes).
func ftypBox(major string, compat []string) []byte {
	p := append([]byte(major), 0, 0, 0, 0)
	for _, c := range compat {
		p = append(p, (c + "    ")[:4]...)
	}
	return bmffBox("ftyp", p)
}

// isobmffWrapping puts payload, raw, behind an ftyp box of majorBrand and
// compat: there is no meta box, so it holds no HEIF image, whatever the
// brands say.
func isobmffWrapping(majorBrand string, compat []string, payload []byte) []byte {
	return append(ftypBox(majorBrand, compat), payload...)
}

// withMajorBrand returns a copy of an ftyp-led file with its major brand
// replaced.
func withMajorBrand(data []byte, brand string) []byte {
	out := bytes.Clone(data)
	copy(out[8:12], brand)
	return out
}

// heifSpecItem is one item of a HEIF built by heifFile.
type heifSpecItem struct {
	id     uint32
	typ    string // hvc1, av01, grid, Exif...
	hidden bool
	props  []int // 1-based ipco indices
}

// heifSpecRef is one iref reference.
type heifSpecRef struct {
	typ  string
	from uint32
	to   []uint32
}

// heifSpecLoc is one iloc item with one extent.
type heifSpecLoc struct {
	id          uint32
	method      int // 0: file offset (relative to mdat's payload); 1: idat
	off, length int
}

// heifSpec describes a HEIF file: brands, items, properties, references,
// locations and the bytes of idat and mdat.
type heifSpec struct {
	major   string // default heic
	compat  []string
	primary uint32
	items   []heifSpecItem
	props   [][]byte // complete property boxes
	refs    []heifSpecRef
	locs    []heifSpecLoc
	idat    []byte
	mdat    []byte
}

// heifFile builds the file heifSpec describes, version 0 boxes throughout
// (16-bit item IDs). Method-0 locations are given relative to the mdat
// payload and fixed up to file offsets.
func heifFile(s heifSpec) []byte {
	if s.major == "" {
		s.major = "heic"
	}
	if s.compat == nil {
		s.compat = []string{"mif1", s.major}
	}
	u16 := func(v int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }
	u32 := func(v int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

	var infes [][]byte
	for _, it := range s.items {
		flags := uint32(0)
		if it.hidden {
			flags = 1
		}
		infes = append(infes, fullBox("infe", 2, flags, u16(int(it.id)), u16(0), []byte(it.typ), []byte{0}))
	}
	iinf := fullBox("iinf", 0, 0, append([][]byte{u16(len(infes))}, infes...)...)

	var ipma []byte
	ipma = append(ipma, u32(len(s.items))...)
	for _, it := range s.items {
		ipma = append(ipma, u16(int(it.id))...)
		ipma = append(ipma, byte(len(it.props)))
		for _, p := range it.props {
			ipma = append(ipma, byte(p))
		}
	}
	iprp := bmffBox("iprp", bmffBox("ipco", s.props...), fullBox("ipma", 0, 0, ipma))

	var refs [][]byte
	for _, r := range s.refs {
		p := append(u16(int(r.from)), u16(len(r.to))...)
		for _, to := range r.to {
			p = append(p, u16(int(to))...)
		}
		refs = append(refs, bmffBox(r.typ, p))
	}

	hdlr := fullBox("hdlr", 0, 0, u32(0), []byte("pict"), make([]byte, 12), []byte{0})
	pitm := fullBox("pitm", 0, 0, u16(int(s.primary)))
	iloc := func(mdatPayload int) []byte {
		p := []byte{0x44, 0x00} // offset and length 4 bytes, no base offset
		p = append(p, u16(len(s.locs))...)
		for _, l := range s.locs {
			off := l.off
			if l.method == 0 {
				off += mdatPayload
			}
			p = append(p, u16(int(l.id))...)
			p = append(p, u16(l.method)...)
			p = append(p, u16(0)...) // data reference index
			p = append(p, u16(1)...) // one extent
			p = append(p, u32(off)...)
			p = append(p, u32(l.length)...)
		}
		return fullBox("iloc", 1, 0, p)
	}
	meta := func(mdatPayload int) []byte {
		children := [][]byte{hdlr, pitm, iloc(mdatPayload), iinf}
		if len(refs) > 0 {
			children = append(children, fullBox("iref", 0, 0, refs...))
		}
		children = append(children, iprp)
		if s.idat != nil {
			children = append(children, bmffBox("idat", s.idat))
		}
		return fullBox("meta", 0, 0, children...)
	}
	head := append(ftypBox(s.major, s.compat), meta(0)...)
	head = append(ftypBox(s.major, s.compat), meta(len(head)+8)...) // same length: offsets are fixed-size
	return append(head, bmffBox("mdat", s.mdat)...)
}

// ispeBox, irotBox and hvcCBox are item properties (hvcC a stub: enough for
// header readers, not for a decoder).
func ispeBox(w, h int) []byte {
	return fullBox("ispe", 0, 0, binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, uint32(w)), uint32(h)))
}

func irotBox(turns int) []byte { return bmffBox("irot", []byte{byte(turns & 3)}) }

func hvcCBox() []byte { return bmffBox("hvcC", make([]byte, 23)) }

// heifStill is a HEIF whose primary item is one hvc1 image with an ispe of
// w x h (no coded data).
func heifStill(major string, compat []string, w, h int) []byte {
	return heifFile(heifSpec{major: major, compat: compat, primary: 1,
		items: []heifSpecItem{{id: 1, typ: "hvc1", props: []int{1, 2}}},
		props: [][]byte{hvcCBox(), ispeBox(w, h)}})
}

// heifTile is the size of one tile of a grid (cycled over the grid).
type heifTile struct {
	w, h   int
	noIspe bool
	typ    string // default hvc1
}

// heifGridSpec describes a HEIF whose primary item is a grid.
type heifGridSpec struct {
	rows, cols   int
	outW, outH   int  // output size in the grid payload
	wide         bool // 32-bit output size fields
	ispeW, ispeH int  // the grid item's ispe (default: the output size)
	tiles        []heifTile
	refs         int // dimg references (default rows*cols)
	// payloadOutOfReach puts the payload at a file offset past the end.
	payloadOutOfReach bool
	// coded, when set, makes every tile a copy of one real AV1 image (its
	// properties and data), so that libvips can decode the grid; tiles is
	// then ignored.
	coded *avifCoded
}

// heifGrid builds the grid heifGridSpec describes: item 1 is the grid (its
// payload in idat), items 2.. the tiles, each with its own ispe.
func heifGrid(g heifGridSpec) []byte {
	if g.ispeW == 0 {
		g.ispeW, g.ispeH = g.outW, g.outH
	}
	if g.refs == 0 {
		g.refs = g.rows * g.cols
	}
	payload := []byte{0, 0, byte(g.rows - 1), byte(g.cols - 1)}
	if g.wide {
		payload[1] = 1
		payload = binary.BigEndian.AppendUint32(payload, uint32(g.outW))
		payload = binary.BigEndian.AppendUint32(payload, uint32(g.outH))
	} else {
		payload = binary.BigEndian.AppendUint16(payload, uint16(g.outW))
		payload = binary.BigEndian.AppendUint16(payload, uint16(g.outH))
	}
	s := heifSpec{primary: 1, props: [][]byte{hvcCBox(), ispeBox(g.ispeW, g.ispeH)}, idat: payload,
		items: []heifSpecItem{{id: 1, typ: "grid", props: []int{2}}},
		locs:  []heifSpecLoc{{id: 1, method: 1, length: len(payload)}}}
	if g.payloadOutOfReach {
		s.locs[0] = heifSpecLoc{id: 1, method: 0, off: 1 << 20, length: len(payload)}
	}
	var codedProps []int
	if g.coded != nil {
		s.major, s.compat, s.mdat = "avif", []string{"mif1", "avif", "miaf"}, g.coded.data
		for _, p := range g.coded.props {
			s.props = append(s.props, p)
			codedProps = append(codedProps, len(s.props))
		}
	}
	ref := heifSpecRef{typ: "dimg", from: 1}
	propOf := map[[2]int]int{}
	for i := range g.refs {
		id := uint32(2 + i)
		if g.coded != nil {
			s.items = append(s.items, heifSpecItem{id: id, typ: "av01", hidden: true, props: codedProps})
			s.locs = append(s.locs, heifSpecLoc{id: id, length: len(g.coded.data)})
			ref.to = append(ref.to, id)
			continue
		}
		t := g.tiles[i%len(g.tiles)]
		props := []int{1}
		if !t.noIspe {
			k := [2]int{t.w, t.h}
			if propOf[k] == 0 {
				s.props = append(s.props, ispeBox(t.w, t.h))
				propOf[k] = len(s.props)
			}
			props = append(props, propOf[k])
		}
		typ := t.typ
		if typ == "" {
			typ = "hvc1"
		}
		s.items = append(s.items, heifSpecItem{id: id, typ: typ, hidden: true, props: props})
		ref.to = append(ref.to, id)
	}
	s.refs = []heifSpecRef{ref}
	return heifFile(s)
}

// heifDerivedItem is a HEIF whose primary item 1 is a derived image of type typ
// (iovl or iden) with an ispe of w x h and payload in idat (none when nil),
// referencing one hidden hvc1 item per entry of images, each with an ispe
// of that size.
func heifDerivedItem(typ string, w, h int, payload []byte, images ...[2]int) []byte {
	s := heifSpec{primary: 1, props: [][]byte{hvcCBox(), ispeBox(w, h)}, idat: payload,
		items: []heifSpecItem{{id: 1, typ: typ, props: []int{2}}}}
	if payload != nil {
		s.locs = []heifSpecLoc{{id: 1, method: 1, length: len(payload)}}
	}
	ref := heifSpecRef{typ: "dimg", from: 1}
	for i, im := range images {
		s.props = append(s.props, ispeBox(im[0], im[1]))
		id := uint32(2 + i)
		s.items = append(s.items, heifSpecItem{id: id, typ: "hvc1", hidden: true, props: []int{1, len(s.props)}})
		ref.to = append(ref.to, id)
	}
	s.refs = []heifSpecRef{ref}
	return heifFile(s)
}

// heifOverlay is a HEIF whose primary item is an iovl overlay: its ispe and
// its payload canvas (16-bit fields) are canvasW x canvasH, and it places
// one image of each size of images at (0,0).
func heifOverlay(canvasW, canvasH int, images ...[2]int) []byte {
	p := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF} // version, flags, fill colour
	p = binary.BigEndian.AppendUint16(p, uint16(canvasW))
	p = binary.BigEndian.AppendUint16(p, uint16(canvasH))
	p = append(p, make([]byte, 4*len(images))...)
	return heifDerivedItem("iovl", canvasW, canvasH, p, images...)
}

// avifCoded is one real AV1 image: the property boxes of its primary item
// (ispe, av1C, pixi, colr... in file order) and its coded data.
type avifCoded struct {
	props [][]byte
	data  []byte
}

// avifCodedImage encodes a w x h grey image as AVIF with libvips and takes
// its primary item apart (libvips writes one item with one extent in mdat).
func avifCodedImage(tb testing.TB, w, h int) *avifCoded {
	tb.Helper()
	img, err := vips.NewImageFromBuffer(pngImage(tb, w, h))
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
	c := &avifCoded{}
	for _, a := range assoc {
		p, ok := m.property(int(a & 0x7f))
		if !ok {
			tb.Fatalf("libvips AVIF: property %d missing", a&0x7f)
		}
		c.props = append(c.props, bmffBox(string(p.typ), p.body))
	}
	var buf [1 << 16]byte
	n, reachable := m.itemData(m.primary, buf[:])
	if !reachable || n == 0 || n == len(buf) {
		tb.Fatalf("libvips AVIF: primary item data: %d bytes, reachable %v", n, reachable)
	}
	c.data = bytes.Clone(buf[:n])
	return c
}

// --- TIFF ---

// tiffPageSpec is one TIFF page: size, tiles (0: one strip), samples per
// pixel and bits per sample (0: 1 and 8).
type tiffPageSpec struct{ w, h, tileW, tileH, samples, bits int }

// tiffPages builds a little-endian, uncompressed TIFF with one IFD per page.
// Pages whose data fits in 4 MiB carry it (zeros: black); larger ones
// declare it without holding it.
func tiffPages(pages []tiffPageSpec) []byte {
	b := []byte("II*\x00\x00\x00\x00\x00")
	u16 := func(v int) []byte { return binary.LittleEndian.AppendUint16(nil, uint16(v)) }
	u32 := func(v int) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(v)) }
	link := 4 // where to write the offset of the next IFD
	for _, p := range pages {
		if p.samples == 0 {
			p.samples = 1
		}
		if p.bits == 0 {
			p.bits = 8
		}
		// Pixel data first, then the IFD with its arrays.
		unitW, unitH, units := p.w, p.h, 1
		if p.tileW > 0 {
			unitW, unitH = p.tileW, p.tileH
			units = ((p.w + p.tileW - 1) / p.tileW) * ((p.h + p.tileH - 1) / p.tileH)
		}
		unitBytes := unitW * unitH * p.samples * p.bits / 8
		dataAt := len(b)
		if unitBytes*units <= 4<<20 {
			b = append(b, make([]byte, unitBytes*units)...)
		} else {
			unitBytes, units, dataAt = 0, 1, 0
		}
		bitsAt := len(b)
		for range p.samples {
			b = append(b, u16(p.bits)...)
		}
		offsAt := len(b)
		for u := range units {
			b = append(b, u32(dataAt+u*unitBytes)...)
		}
		countsAt := len(b)
		for range units {
			b = append(b, u32(unitBytes)...)
		}
		if len(b)%2 == 1 {
			b = append(b, 0)
		}
		type entry struct{ tag, typ, count, value int }
		bitsValue := p.bits
		if p.samples > 2 {
			bitsValue = bitsAt
		}
		if p.samples == 2 {
			bitsValue = p.bits | p.bits<<16
		}
		photometric := 1
		if p.samples >= 3 {
			photometric = 2
		}
		arrayOr := func(at, single int) int {
			if units == 1 {
				return single
			}
			return at
		}
		entries := []entry{
			{256, 4, 1, p.w}, {257, 4, 1, p.h}, {258, 3, p.samples, bitsValue}, {259, 3, 1, 1}, {262, 3, 1, photometric},
		}
		if p.tileW == 0 {
			entries = append(entries, entry{273, 4, units, arrayOr(offsAt, dataAt)})
		}
		entries = append(entries, entry{277, 3, 1, p.samples})
		if p.tileW == 0 {
			entries = append(entries, entry{278, 4, 1, p.h}, entry{279, 4, units, arrayOr(countsAt, unitBytes)})
		}
		entries = append(entries, entry{284, 3, 1, 1})
		if p.tileW > 0 {
			entries = append(entries, entry{322, 4, 1, p.tileW}, entry{323, 4, 1, p.tileH},
				entry{324, 4, units, arrayOr(offsAt, dataAt)}, entry{325, 4, units, arrayOr(countsAt, unitBytes)})
		}
		ifd := len(b)
		copy(b[link:], u32(ifd))
		b = append(b, u16(len(entries))...)
		for _, e := range entries {
			b = append(b, u16(e.tag)...)
			b = append(b, u16(e.typ)...)
			b = append(b, u32(e.count)...)
			if e.typ == 3 && e.count == 1 {
				b = append(b, u16(e.value)...)
				b = append(b, 0, 0)
			} else {
				b = append(b, u32(e.value)...)
			}
		}
		link = len(b)
		b = append(b, 0, 0, 0, 0)
	}
	return b
}

// tiffMultiPage is a TIFF of 8-bit greyscale pages of the given sizes.
func tiffMultiPage(pages [][2]int) []byte {
	specs := make([]tiffPageSpec, len(pages))
	for i, p := range pages {
		specs[i] = tiffPageSpec{w: p[0], h: p[1]}
	}
	return tiffPages(specs)
}

// tiffLoop is a two-page TIFF whose second IFD points back to the first.
func tiffLoop() []byte {
	b := tiffMultiPage([][2]int{{8, 8}, {8, 8}})
	first := binary.LittleEndian.Uint32(b[4:8])
	second := binary.LittleEndian.Uint32(b[first+2+12*uint32(binary.LittleEndian.Uint16(b[first:])):])
	end := second + 2 + 12*uint32(binary.LittleEndian.Uint16(b[second:]))
	binary.LittleEndian.PutUint32(b[end:], first)
	return b
}

// --- PNG ---

// pngChunk is a PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[4:]))
}

// pngWithIHDRBytes is a PNG signature, an IHDR of the given fields (correct
// CRC), an IDAT holding an empty zlib stream and IEND.
func pngWithIHDRBytes(w, h int, depth, colour, compression, filter, interlace byte) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	ihdr = append(ihdr, depth, colour, compression, filter, interlace)
	b := append(bytes.Clone(pngMagic), pngChunk("IHDR", ihdr)...)
	b = append(b, pngChunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	return append(b, pngChunk("IEND", nil)...)
}

// pngWithIHDR is pngWithIHDRBytes with standard compression, filter and no
// interlace.
func pngWithIHDR(w, h int, depth, colour byte) []byte {
	return pngWithIHDRBytes(w, h, depth, colour, 0, 0, 0)
}

// pngImage encodes a real w x h grey PNG.
func pngImage(tb testing.TB, w, h int) []byte {
	tb.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatalf("png.Encode(%dx%d grey): %v", w, h, err)
	}
	return buf.Bytes()
}

// pngBadCRC is a real w x h PNG whose IHDR CRC is wrong.
func pngBadCRC(tb testing.TB, w, h int) []byte {
	tb.Helper()
	b := pngImage(tb, w, h)
	b[29] ^= 0xFF // first byte of the IHDR CRC
	return b
}

// --- TGA ---

// tgaImage is an uncompressed 24-bit TGA of w x h (TGA has no magic bytes:
// only a loader that guesses will take it).
func tgaImage(w, h int) []byte {
	b := []byte{0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	b = binary.LittleEndian.AppendUint16(b, uint16(w))
	b = binary.LittleEndian.AppendUint16(b, uint16(h))
	b = append(b, 24, 0x20)
	return append(b, bytes.Repeat([]byte{0x40, 0x80, 0xC0}, w*h)...)
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
