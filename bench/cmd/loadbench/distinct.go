package main

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
)

// distinct returns a copy of an original with tag embedded where every
// decoder skips it, so that books sharing a picture get different bytes:
// the service stores originals by content (their SHA-256) and would
// otherwise render each variant of a shared picture once for all its books,
// while the render, catalog and overload scenarios need a book's variant to
// be its own. The pixels are the same, so is the render's cost.
//   - JPEG: a COM segment after SOI.
//   - PNG: a tEXt chunk after IHDR.
//   - anything else (the HEIF family: AVIF): a top-level "free" box at the end.
func distinct(data []byte, tag string) []byte {
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8}):
		seg := []byte{0xFF, 0xFE, 0, 0}
		binary.BigEndian.PutUint16(seg[2:], uint16(2+len(tag)))
		seg = append(seg, tag...)
		return join(data[:2], seg, data[2:])
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) && len(data) >= 33:
		body := append([]byte("tEXt"), "Comment\x00"+tag...)
		chunk := binary.BigEndian.AppendUint32(nil, uint32(len(body)-4))
		chunk = append(chunk, body...)
		chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(body))
		return join(data[:33], chunk, data[33:]) // 8 signature + 25 IHDR
	default:
		box := binary.BigEndian.AppendUint32(nil, uint32(8+len(tag)))
		box = append(box, "free"...)
		box = append(box, tag...)
		return join(data, box)
	}
}

func join(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
