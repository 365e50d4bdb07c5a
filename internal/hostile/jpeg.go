package hostile

import (
	"bytes"
	"encoding/binary"
)

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
