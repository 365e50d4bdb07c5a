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

// checkComplete looks for each format's end marker. Formats without a cheap
// end marker (TIFF, HEIF/AVIF) are left to libvips, which fails on them at
// render time with ErrRenderFailed.
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
	}
	if !ok {
		return fmt.Errorf("transform check: truncated %s: %w", t, ErrNotAnImage)
	}
	return nil
}
