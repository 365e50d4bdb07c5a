package hostile

import (
	"bytes"
	"encoding/binary"
)

// TGA is an uncompressed 24-bit TGA of w x h. TGA has no magic bytes: only a
// loader that guesses will take it.
func TGA(w, h int) []byte {
	b := []byte{0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	b = binary.LittleEndian.AppendUint16(b, uint16(w))
	b = binary.LittleEndian.AppendUint16(b, uint16(h))
	b = append(b, 24, 0x20)
	return append(b, bytes.Repeat([]byte{0x40, 0x80, 0xC0}, w*h)...)
}
