package hostile

import (
	"bytes"
	"encoding/binary"
)

// Box is an ISO-BMFF box of type typ (four characters) holding the
// concatenated payloads.
func Box(typ string, payload ...[]byte) []byte {
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

// FullBox is an ISO-BMFF full box: a version, 24 bits of flags, then the
// payloads.
func FullBox(typ string, version byte, flags uint32, payload ...[]byte) []byte {
	vf := binary.BigEndian.AppendUint32(nil, uint32(version)<<24|flags&0xFFFFFF)
	return Box(typ, append([][]byte{vf}, payload...)...)
}

// FtypBox is an ftyp box with a major brand, minor version 0 and the
// compatible brands, each padded or cut to four bytes.
func FtypBox(major string, compat []string) []byte {
	p := append([]byte(major), 0, 0, 0, 0)
	for _, c := range compat {
		p = append(p, (c + "    ")[:4]...)
	}
	return Box("ftyp", p)
}

// ISOBMFFWrapping puts payload, raw, behind an ftyp box of majorBrand and
// compat. There is no meta box, so the file holds no HEIF image whatever its
// brands say; what the payload is (a TGA, a PNG) is for a loader that sniffs
// past the brands to find.
func ISOBMFFWrapping(majorBrand string, compat []string, payload []byte) []byte {
	return append(FtypBox(majorBrand, compat), payload...)
}

// WithMajorBrand is a copy of an ftyp-led file (an AVIF, a HEIC) with its
// major brand replaced by brand (four bytes).
func WithMajorBrand(data []byte, brand string) []byte {
	out := bytes.Clone(data)
	copy(out[8:12], brand)
	return out
}

// ZeroMdat is a copy of an ISO-BMFF file with the payload of every top-level
// mdat box zeroed: the boxes, the items and their locations are intact, the
// coded image data is not.
func ZeroMdat(data []byte) []byte {
	out := bytes.Clone(data)
	for off := 0; off+8 <= len(out); {
		size := int(binary.BigEndian.Uint32(out[off:]))
		head := 8
		switch {
		case size == 1 && off+16 <= len(out):
			size, head = int(binary.BigEndian.Uint64(out[off+8:])), 16
		case size == 0:
			size = len(out) - off
		}
		if size < head || size > len(out)-off {
			break
		}
		if string(out[off+4:off+8]) == "mdat" {
			clear(out[off+head : off+size])
		}
		off += size
	}
	return out
}

// topLevelBoxes lists the offsets at which the top-level boxes of an
// ISO-BMFF file start (and len(data) when they tile it exactly).
func topLevelBoxes(data []byte) []int {
	var offs []int
	off := 0
	for off+8 <= len(data) {
		offs = append(offs, off)
		size := int64(binary.BigEndian.Uint32(data[off:]))
		switch {
		case size == 1 && off+16 <= len(data):
			size = int64(binary.BigEndian.Uint64(data[off+8:]))
		case size == 0:
			size = int64(len(data) - off)
		}
		if size < 8 || size > int64(len(data)-off) {
			return offs
		}
		off += int(size)
	}
	return append(offs, off)
}

// CutAtLastBox is an ISO-BMFF file cut where its last top-level box (the
// mdat of a HEIF or AVIF) starts: what is left is made of whole boxes, so
// the file passes for complete, but the item data lies beyond its end.
func CutAtLastBox(data []byte) []byte {
	offs := topLevelBoxes(data)
	if len(offs) < 2 || offs[len(offs)-1] != len(data) {
		return bytes.Clone(data)
	}
	return bytes.Clone(data[:offs[len(offs)-2]])
}
