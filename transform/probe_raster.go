package transform

import (
	"encoding/binary"
)

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// probePNG reads IHDR and, for APNG, the frame count from acTL (chunks are
// walked by their lengths up to the first IDAT).
func probePNG(b []byte, maxPixels int64) (Info, error) {
	if len(b) < 8+8+13 {
		return Info{}, truncated(TypePNG, "IHDR")
	}
	if string(b[12:16]) != "IHDR" || binary.BigEndian.Uint32(b[8:12]) != 13 {
		return Info{}, corrupt(TypePNG, "IHDR")
	}
	w := int64(binary.BigEndian.Uint32(b[16:20]))
	h := int64(binary.BigEndian.Uint32(b[20:24]))
	if err := checkDims(TypePNG, w, h, maxPixels); err != nil {
		return Info{}, err
	}
	info := Info{Type: TypePNG, Width: int(w), Height: int(h), Frames: 1, Orientation: 1}
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

// probeGIF reads the logical screen and counts image descriptors by skipping
// extension and image data sub-blocks; counting stops at maxFrames. A GIF
// with no complete image descriptor is ErrNotAnImage.
func probeGIF(b []byte, maxPixels int64) (Info, error) {
	if len(b) < 13 {
		return Info{}, truncated(TypeGIF, "logical screen descriptor")
	}
	w := int64(binary.LittleEndian.Uint16(b[6:8]))
	h := int64(binary.LittleEndian.Uint16(b[8:10]))
	if err := checkDims(TypeGIF, w, h, maxPixels); err != nil {
		return Info{}, err
	}
	info := Info{Type: TypeGIF, Width: int(w), Height: int(h), Orientation: 1}
	i := 13
	if flags := b[10]; flags&0x80 != 0 {
		i += 3 << ((flags & 7) + 1)
	}
	for i < len(b) && info.Frames < maxFrames {
		switch b[i] {
		case 0x21: // extension: label, then sub-blocks
			i = skipSubBlocks(b, i+2)
		case 0x2C: // image descriptor: 9 bytes, optional local table, LZW size, sub-blocks
			if i+10 > len(b) {
				i = len(b)
				break
			}
			flags := b[i+9]
			i += 10
			if flags&0x80 != 0 {
				i += 3 << ((flags & 7) + 1)
			}
			i = skipSubBlocks(b, i+1)
			if i <= len(b) {
				info.Frames++
			}
		default: // 0x3B trailer, or garbage after the last frame
			i = len(b)
		}
	}
	if info.Frames == 0 {
		return Info{}, truncated(TypeGIF, "image data: no frame")
	}
	return info, nil
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

// probeWebP reads the first chunk (VP8, VP8L or VP8X) and, for animated
// VP8X files, counts ANMF chunks up to maxFrames.
func probeWebP(b []byte, maxPixels int64) (Info, error) {
	if len(b) < 20 {
		return Info{}, truncated(TypeWebP, "chunk header")
	}
	info := Info{Type: TypeWebP, Frames: 1, Orientation: 1}
	fourcc := string(b[12:16])
	p := b[20:]
	var w, h int64
	animated := false
	switch fourcc {
	case "VP8 ":
		if len(p) < 10 {
			return Info{}, truncated(TypeWebP, "VP8 frame header")
		}
		if p[3] != 0x9d || p[4] != 0x01 || p[5] != 0x2a {
			return Info{}, corrupt(TypeWebP, "VP8 start code")
		}
		w = int64(binary.LittleEndian.Uint16(p[6:8]) & 0x3fff)
		h = int64(binary.LittleEndian.Uint16(p[8:10]) & 0x3fff)
	case "VP8L":
		if len(p) < 5 {
			return Info{}, truncated(TypeWebP, "VP8L header")
		}
		if p[0] != 0x2f {
			return Info{}, corrupt(TypeWebP, "VP8L signature")
		}
		bits := binary.LittleEndian.Uint32(p[1:5])
		w = int64(bits&0x3fff) + 1
		h = int64((bits>>14)&0x3fff) + 1
	case "VP8X":
		if len(p) < 10 {
			return Info{}, truncated(TypeWebP, "VP8X header")
		}
		animated = p[0]&0x02 != 0
		w = int64(uint32(p[4])|uint32(p[5])<<8|uint32(p[6])<<16) + 1
		h = int64(uint32(p[7])|uint32(p[8])<<8|uint32(p[9])<<16) + 1
	default:
		return Info{}, corrupt(TypeWebP, "first chunk "+printable(fourcc))
	}
	if err := checkDims(TypeWebP, w, h, maxPixels); err != nil {
		return Info{}, err
	}
	info.Width, info.Height = int(w), int(h)
	if animated {
		info.Frames = 0
		for i := int64(12); i+8 <= int64(len(b)) && info.Frames < maxFrames; {
			n := int64(binary.LittleEndian.Uint32(b[i+4 : i+8]))
			if string(b[i:i+4]) == "ANMF" {
				info.Frames++
			}
			i += 8 + n + n&1
		}
	}
	return info, nil
}

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
