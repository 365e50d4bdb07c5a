package transform

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// CheckOriginal is the ingest check of an original: Probe (type by magic
// bytes, dimensions from the header, pixel limit) plus a structural check
// that the file is complete, so a truncated upload is refused at the door
// with ErrNotAnImage instead of failing every later render.
func CheckOriginal(data []byte, maxPixels int64) (Info, error) {
	info, err := Probe(data, maxPixels)
	if err != nil {
		return Info{}, err
	}
	if err := checkComplete(info.Type, data); err != nil {
		return Info{}, err
	}
	return info, nil
}

// checkComplete looks for each format's end marker; for HEIF and AVIF, it
// checks that the top-level boxes all fit in data (a cut mdat no longer
// does). TIFF has no cheap end marker and is left to libvips, which fails on
// a cut one at render time with ErrRenderFailed.
func checkComplete(t SourceType, data []byte) error {
	ok := true
	switch t {
	case TypeJPEG:
		// EOI must follow the last start-of-scan: inside entropy-coded data
		// 0xFF is always stuffed or a restart marker, and an embedded EXIF
		// thumbnail's EOI comes before the main image's scans.
		ok = bytes.LastIndex(data, []byte{0xFF, 0xD9}) > bytes.LastIndex(data, []byte{0xFF, 0xDA})
	case TypePNG:
		ok = bytes.LastIndex(data, []byte("IEND")) > bytes.Index(data, []byte("IDAT"))
	case TypeGIF:
		trimmed := bytes.TrimRight(data, "\x00")
		ok = len(trimmed) > 0 && trimmed[len(trimmed)-1] == 0x3B
	case TypeWebP:
		ok = len(data) >= 12 && int64(binary.LittleEndian.Uint32(data[4:8]))+8 <= int64(len(data))
	case TypeAVIF, TypeHEIF:
		ok = boxesComplete(data)
	}
	if !ok {
		return fmt.Errorf("transform check: truncated %s: %w", t, ErrNotAnImage)
	}
	return nil
}

// boxesComplete reports whether the top-level ISO-BMFF boxes of data tile it
// exactly: each one ends within data and the last one at its end (a size of
// 0 runs to the end).
func boxesComplete(data []byte) bool {
	off := 0
	for off+8 <= len(data) {
		size := int64(binary.BigEndian.Uint32(data[off : off+4]))
		switch size {
		case 0:
			return true
		case 1:
			if off+16 > len(data) {
				return false
			}
			size = int64(binary.BigEndian.Uint64(data[off+8 : off+16]))
			if size < 16 {
				return false
			}
		default:
			if size < 8 {
				return false
			}
		}
		if size > int64(len(data)-off) {
			return false
		}
		off += int(size)
	}
	return off == len(data)
}
