package transform

import (
	"encoding/binary"
	"hash/crc32"
)

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// probePNG reads IHDR and, for APNG, the frame count from acTL (chunks are
// walked by their lengths up to the first IDAT). IHDR must carry a correct
// CRC (libpng and libspng refuse the file otherwise) and a bit depth,
// colour type, compression, filter and interlace method the PNG
// specification allows. The size limits apply to IHDR: libvips decodes the
// default image only, never APNG frames.
func probePNG(b []byte, maxPixels int64) (Info, error) {
	if len(b) < 8+8+13+4 {
		return Info{}, truncated(TypePNG, "IHDR")
	}
	if string(b[12:16]) != "IHDR" || binary.BigEndian.Uint32(b[8:12]) != 13 {
		return Info{}, corrupt(TypePNG, "IHDR")
	}
	if crc32.ChecksumIEEE(b[12:29]) != binary.BigEndian.Uint32(b[29:33]) {
		return Info{}, corrupt(TypePNG, "IHDR CRC")
	}
	depth, colour := b[24], b[25]
	if !pngDepthAllowed(colour, depth) {
		return Info{}, corrupt(TypePNG, "IHDR bit depth for its colour type")
	}
	if b[26] != 0 || b[27] != 0 || b[28] > 1 {
		return Info{}, corrupt(TypePNG, "IHDR compression, filter or interlace method")
	}
	w := int64(binary.BigEndian.Uint32(b[16:20]))
	h := int64(binary.BigEndian.Uint32(b[20:24]))
	if err := checkDims(TypePNG, w, h, maxPixels); err != nil {
		return Info{}, err
	}
	info := Info{Type: TypePNG, Width: int(w), Height: int(h), Frames: 1, Orientation: 1, BytesPerPixel: pngBytesPerPixel(colour, depth)}
	for i := int64(8); i+8 <= int64(len(b)); {
		n := int64(binary.BigEndian.Uint32(b[i : i+4]))
		typ := string(b[i+4 : i+8])
		if typ == "IDAT" || typ == "IEND" {
			break
		}
		if typ == "acTL" && n >= 8 && i+16 <= int64(len(b)) {
			info.Frames = int(min(int64(binary.BigEndian.Uint32(b[i+8:i+12])), maxFrames))
			break
		}
		i += 12 + n
	}
	return info, nil
}

// pngBytesPerPixel is what libvips holds per pixel of a PNG: its bands
// (a palette expands to RGB or RGBA: counted as 4) times 2 at 16 bits.
func pngBytesPerPixel(colour, depth byte) int {
	bands := map[byte]int{0: 1, 2: 3, 3: 4, 4: 2, 6: 4}[colour]
	if depth == 16 {
		return 2 * bands
	}
	return bands
}

// pngDepthAllowed reports whether the PNG specification allows bit depth
// depth for colour type colour (table 11.1).
func pngDepthAllowed(colour, depth byte) bool {
	switch colour {
	case 0: // greyscale
		return depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16
	case 3: // indexed
		return depth == 1 || depth == 2 || depth == 4 || depth == 8
	case 2, 4, 6: // truecolour, grey+alpha, truecolour+alpha
		return depth == 8 || depth == 16
	}
	return false
}

// probeGIF reads the logical screen and walks every block, skipping
// extension and image data sub-blocks (no LZW decoding).
//
// libvips' GIF decoder (libnsgif, vendored in libvips 8.14) allocates one
// canvas of width*height*4 bytes. Its size is the logical screen, replaced
// by 1x1 when the screen is one of the "broken encoder" sizes libnsgif
// distrusts (640x480, 640x512, 800x600, 1024x768, 1280x1024, 1600x1200, a
// zero side, or a side over 2048), and then grown to cover the first frame
// (left+width, top+height); later frames are clipped to it. Probe reports
// that canvas as Width and Height, and applies the side and pixel limits to
// the union of the logical screen as declared and every frame's extent, so
// neither a frame nor a screen over the limits gets through.
//
// Frames counts image descriptors whose data is complete, capped at
// maxFrames; extents are checked for every descriptor in the file. A GIF
// whose first frame is not complete is ErrNotAnImage.
func probeGIF(b []byte, maxPixels int64) (Info, error) {
	if len(b) < 13 {
		return Info{}, truncated(TypeGIF, "logical screen descriptor")
	}
	sw := int64(binary.LittleEndian.Uint16(b[6:8]))
	sh := int64(binary.LittleEndian.Uint16(b[8:10]))
	if err := checkLimits(TypeGIF, sw, sh, maxPixels); err != nil {
		return Info{}, err
	}
	uw, uh := sw, sh              // union of the screen and every frame
	cw, ch := nsgifScreen(sw, sh) // libnsgif's canvas
	descriptors, frames := 0, 0
	i := 13
	if flags := b[10]; flags&0x80 != 0 {
		i += 3 << ((flags & 7) + 1)
	}
	for i < len(b) {
		switch b[i] {
		case 0x21: // extension: label, then sub-blocks
			i = skipSubBlocks(b, i+2)
		case 0x2C: // image descriptor: 9 bytes, optional local table, LZW size, sub-blocks
			if i+10 > len(b) {
				i = len(b)
				break
			}
			d := b[i+1 : i+10]
			right := int64(binary.LittleEndian.Uint16(d[0:2])) + int64(binary.LittleEndian.Uint16(d[4:6]))
			bottom := int64(binary.LittleEndian.Uint16(d[2:4])) + int64(binary.LittleEndian.Uint16(d[6:8]))
			uw, uh = max(uw, right), max(uh, bottom)
			if err := checkLimits(TypeGIF, uw, uh, maxPixels); err != nil {
				return Info{}, err
			}
			if descriptors == 0 {
				cw, ch = max(cw, right), max(ch, bottom)
			}
			descriptors++
			flags := d[8]
			i += 10
			if flags&0x80 != 0 {
				i += 3 << ((flags & 7) + 1)
			}
			i = skipSubBlocks(b, i+1)
			if i <= len(b) {
				frames++
			}
		default: // 0x3B trailer, or garbage after the last frame
			i = len(b)
		}
	}
	if frames == 0 {
		return Info{}, truncated(TypeGIF, "image data: no frame")
	}
	return Info{Type: TypeGIF, Width: int(cw), Height: int(ch), Frames: min(frames, maxFrames), Orientation: 1}, nil
}

// nsgifScreen is the canvas libnsgif starts from for a logical screen of
// w x h, before the first frame grows it (nsgif_data_scan in libvips 8.14's
// libnsgif/gif.c).
func nsgifScreen(w, h int64) (int64, int64) {
	switch {
	case w == 640 && h == 480, w == 640 && h == 512, w == 800 && h == 600,
		w == 1024 && h == 768, w == 1280 && h == 1024, w == 1600 && h == 1200,
		w == 0 || h == 0, w > 2048 || h > 2048:
		return 1, 1
	}
	return w, h
}

// skipSubBlocks skips a chain of GIF data sub-blocks starting at i and
// returns the index after the terminator, or len(b)+1 if it is cut short.
func skipSubBlocks(b []byte, i int) int {
	for i < len(b) {
		n := int(b[i])
		i++
		if n == 0 {
			return i
		}
		i += n
	}
	return len(b) + 1
}

// probeWebP reads a WebP the way libwebp's demuxer (which libvips uses for
// every WebP) validates it, within the RIFF size (libwebp ignores bytes
// after it):
//
//   - a simple file (first chunk VP8 or VP8L) is the size of its bitstream;
//   - an extended file (VP8X) has a canvas, checked against the limits
//     first. A still one must hold a VP8 or VP8L bitstream of exactly the
//     canvas size (libwebp refuses anything else). An animated one must hold
//     ANMF frames, each (offset X and Y are 24-bit values times two, width
//     and height 24-bit values plus one) within the limits and within the
//     canvas, and each frame's bitstream, when present, must be the size its
//     ANMF header declares.
//
// A frame whose header lies past the end of data (a truncated file, which
// libwebp refuses as a whole) cannot be checked and is not counted.
func probeWebP(b []byte, maxPixels int64) (Info, error) {
	if len(b) < 20 {
		return Info{}, truncated(TypeWebP, "chunk header")
	}
	riff := int64(binary.LittleEndian.Uint32(b[4:8]))
	if riff < 12 {
		return Info{}, corrupt(TypeWebP, "RIFF size")
	}
	if end := riff + 8; end < int64(len(b)) {
		b = b[:end]
		if len(b) < 20 {
			return Info{}, corrupt(TypeWebP, "RIFF size")
		}
	}
	info := Info{Type: TypeWebP, Frames: 1, Orientation: 1}
	fourcc := string(b[12:16])
	switch fourcc {
	case "VP8 ", "VP8L":
		w, h, err := webpBitstreamSize(b[12:])
		if err != nil {
			return Info{}, err
		}
		if err := checkDims(TypeWebP, w, h, maxPixels); err != nil {
			return Info{}, err
		}
		info.Width, info.Height = int(w), int(h)
		return info, nil
	case "VP8X":
	default:
		return Info{}, corrupt(TypeWebP, "first chunk "+printable(fourcc))
	}
	size := int64(binary.LittleEndian.Uint32(b[16:20]))
	p := b[20:]
	if size < 10 || len(p) < 10 {
		return Info{}, truncated(TypeWebP, "VP8X header")
	}
	animated := p[0]&0x02 != 0
	w := int64(le24(p[4:7])) + 1
	h := int64(le24(p[7:10])) + 1
	if err := checkDims(TypeWebP, w, h, maxPixels); err != nil {
		return Info{}, err
	}
	info.Width, info.Height = int(w), int(h)

	frames := 0
	still := false
	for i := 20 + size + size&1; i+8 <= int64(len(b)); {
		n := int64(binary.LittleEndian.Uint32(b[i+4 : i+8]))
		chunk := b[i:min(i+8+n, int64(len(b)))]
		switch string(b[i : i+4]) {
		case "ALPH":
			if animated {
				return Info{}, corrupt(TypeWebP, "ALPH chunk outside a frame of an animation")
			}
		case "VP8 ", "VP8L":
			if animated {
				return Info{}, corrupt(TypeWebP, "bitstream outside a frame of an animation")
			}
			bw, bh, err := webpBitstreamSize(chunk)
			if err != nil {
				return Info{}, err
			}
			if bw != w || bh != h {
				return Info{}, corruptf(TypeWebP, "bitstream %dx%d in a VP8X canvas of %dx%d", bw, bh, w, h)
			}
			still = true
		case "ANIM", "ANMF":
			if !animated {
				return Info{}, corrupt(TypeWebP, "animation chunk in a still VP8X file")
			}
			if string(b[i:i+4]) == "ANMF" {
				if err := checkANMF(chunk, i+8+n <= int64(len(b)), w, h, maxPixels); err != nil {
					return Info{}, err
				}
				if len(chunk) >= 8+16 {
					frames++
				}
			}
		}
		if still {
			break
		}
		i += 8 + n + n&1
	}
	switch {
	case animated && frames == 0:
		return Info{}, truncated(TypeWebP, "animation: no frame")
	case !animated && !still:
		return Info{}, truncated(TypeWebP, "VP8X file: no VP8 or VP8L bitstream")
	}
	if animated {
		info.Frames = min(frames, maxFrames)
	}
	return info, nil
}

// checkANMF checks one ANMF chunk (header included) against a canvas of
// cw x ch: the frame's own size against the limits, its extent against the
// canvas, and its bitstream against the size the ANMF header declares
// (libwebp decodes the bitstream's size at the frame's offset). complete is
// false when the chunk is cut short by the end of data: what is missing
// cannot be checked, and libwebp refuses a truncated file as a whole.
func checkANMF(chunk []byte, complete bool, cw, ch, maxPixels int64) error {
	if len(chunk) < 8+16 {
		if complete {
			return corrupt(TypeWebP, "ANMF chunk shorter than its header")
		}
		return nil
	}
	p := chunk[8:]
	x, y := 2*int64(le24(p[0:3])), 2*int64(le24(p[3:6]))
	w, h := int64(le24(p[6:9]))+1, int64(le24(p[9:12]))+1
	if err := checkLimits(TypeWebP, w, h, maxPixels); err != nil {
		return err
	}
	if x+w > cw || y+h > ch {
		return corruptf(TypeWebP, "frame %dx%d at (%d,%d) beyond the %dx%d canvas", w, h, x, y, cw, ch)
	}
	i := 16
	if i+8 <= len(p) && string(p[i:i+4]) == "ALPH" {
		n := int(binary.LittleEndian.Uint32(p[i+4 : i+8]))
		i += 8 + n + n&1
	}
	if i+8 <= len(p) {
		need := 10 // VP8 frame header
		if string(p[i:i+4]) == "VP8L" {
			need = 5
		}
		if !complete && len(p)-i-8 < need {
			return nil
		}
		bw, bh, err := webpBitstreamSize(p[i:])
		if err != nil {
			return err
		}
		if bw != w || bh != h {
			return corruptf(TypeWebP, "frame bitstream %dx%d, ANMF header %dx%d", bw, bh, w, h)
		}
		return nil
	}
	if !complete {
		return nil
	}
	return corrupt(TypeWebP, "ANMF chunk: no VP8 or VP8L bitstream")
}

// webpBitstreamSize reads the size of a VP8 or VP8L chunk (header included)
// with the checks libwebp's VP8GetInfo and VP8LGetInfo make: a VP8 key frame
// of a known profile, shown, with a first partition inside the chunk and the
// start code; a VP8L signature and version 0.
func webpBitstreamSize(chunk []byte) (w, h int64, err error) {
	if len(chunk) < 8 {
		return 0, 0, truncated(TypeWebP, "bitstream chunk header")
	}
	size := int64(binary.LittleEndian.Uint32(chunk[4:8]))
	p := chunk[8:]
	switch string(chunk[:4]) {
	case "VP8 ":
		if len(p) < 10 {
			return 0, 0, truncated(TypeWebP, "VP8 frame header")
		}
		bits := le24(p[0:3])
		switch {
		case bits&1 != 0:
			return 0, 0, corrupt(TypeWebP, "VP8 frame: not a key frame")
		case (bits>>1)&7 > 3:
			return 0, 0, corrupt(TypeWebP, "VP8 frame: unknown profile")
		case (bits>>4)&1 == 0:
			return 0, 0, corrupt(TypeWebP, "VP8 frame: not shown")
		case int64(bits>>5) >= size:
			return 0, 0, corrupt(TypeWebP, "VP8 frame: partition beyond the chunk")
		case p[3] != 0x9d || p[4] != 0x01 || p[5] != 0x2a:
			return 0, 0, corrupt(TypeWebP, "VP8 start code")
		}
		w = int64(binary.LittleEndian.Uint16(p[6:8]) & 0x3fff)
		h = int64(binary.LittleEndian.Uint16(p[8:10]) & 0x3fff)
		if w == 0 || h == 0 {
			return 0, 0, corrupt(TypeWebP, "VP8 frame: zero side")
		}
		return w, h, nil
	case "VP8L":
		if len(p) < 5 {
			return 0, 0, truncated(TypeWebP, "VP8L header")
		}
		if p[0] != 0x2f {
			return 0, 0, corrupt(TypeWebP, "VP8L signature")
		}
		bits := binary.LittleEndian.Uint32(p[1:5])
		if bits>>29 != 0 {
			return 0, 0, corrupt(TypeWebP, "VP8L version")
		}
		return int64(bits&0x3fff) + 1, int64((bits>>14)&0x3fff) + 1, nil
	}
	return 0, 0, corrupt(TypeWebP, "bitstream chunk "+printable(string(chunk[:4])))
}

// le24 reads a 24-bit little-endian value.
func le24(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 }

// printable replaces non-printable bytes so header garbage is safe to log.
func printable(s string) string {
	out := []byte(s)
	for i, c := range out {
		if c < 0x20 || c > 0x7e {
			out[i] = '?'
		}
	}
	return string(out)
}
