package hostile

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"
)

// JPEGDeclaring is a real 16x16 JPEG of Noise, encoded by image/jpeg, whose
// SOF0 header is patched to declare w x h.
func JPEGDeclaring(w, h int) []byte {
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, Noise(16, 16), &jpeg.Options{Quality: 80})
	b := buf.Bytes()
	i := bytes.Index(b, []byte{0xFF, 0xC0})
	binary.BigEndian.PutUint16(b[i+5:], uint16(h))
	binary.BigEndian.PutUint16(b[i+7:], uint16(w))
	return b
}

// JPEGWithComment is a copy of jpg with a COM segment holding s inserted
// right after SOI.
func JPEGWithComment(jpg []byte, s string) []byte {
	seg := append([]byte{0xFF, 0xFE}, byte((len(s)+2)>>8), byte(len(s)+2))
	seg = append(seg, s...)
	return append(append(bytes.Clone(jpg[:2]), seg...), jpg[2:]...)
}

// Noise is a deterministic opaque w x h pattern that compresses badly.
func Noise(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	x := uint32(2463534242)
	for i := range img.Pix {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		img.Pix[i] = byte(x)
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	return img
}

// JPEGCorruptScan is a copy of a baseline JPEG with 64 bytes in the middle
// of its first scan's entropy-coded data overwritten by restart markers the
// file does not declare (it has no DRI, or not at that place): the headers
// and the end marker are intact, the coded data is not. A JPEG without a
// scan is returned unchanged.
func JPEGCorruptScan(data []byte) []byte {
	out := bytes.Clone(data)
	start := jpegScanStart(out)
	end := bytes.LastIndex(out, []byte{0xFF, 0xD9})
	if start < 0 || end-start < 256 {
		return out
	}
	mid := start + (end-start)/2
	for i := 0; i < 64; i += 2 {
		out[mid+i], out[mid+i+1] = 0xFF, 0xD0+byte(i/2%8)
	}
	return out
}

// jpegScanStart is the offset of the first scan's entropy-coded data (just
// past the SOS segment), or -1.
func jpegScanStart(data []byte) int {
	if !bytes.HasPrefix(data, []byte{0xFF, 0xD8}) {
		return -1
	}
	for off := 2; off+4 <= len(data); {
		if data[off] != 0xFF {
			return -1
		}
		marker := data[off+1]
		if marker == 0xFF { // fill byte
			off++
			continue
		}
		n := int(binary.BigEndian.Uint16(data[off+2:]))
		if marker == 0xDA {
			if off+2+n > len(data) {
				return -1
			}
			return off + 2 + n
		}
		off += 2 + n
	}
	return -1
}
