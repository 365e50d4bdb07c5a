package transform

import (
	"bytes"
)

// probeJPEG walks the marker segments from SOI to the first SOFn, reading the
// EXIF orientation from an APP1 segment on the way. It stops at SOS or EOI:
// a JPEG whose frame header is missing or cut short is ErrNotAnImage.
func probeJPEG(b []byte) (Info, error) {
	info := Info{Type: TypeJPEG, Frames: 1, Orientation: 1}
	i := 2 // after SOI
	for {
		if i >= len(b) {
			return Info{}, truncated(TypeJPEG, "marker stream")
		}
		if b[i] != 0xFF {
			return Info{}, corrupt(TypeJPEG, "marker")
		}
		for i < len(b) && b[i] == 0xFF { // fill bytes
			i++
		}
		if i >= len(b) {
			return Info{}, truncated(TypeJPEG, "marker")
		}
		m := b[i]
		i++
		switch {
		case m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7):
			continue // standalone markers carry no length
		case m == 0xD9 || m == 0xDA:
			return Info{}, corrupt(TypeJPEG, "header: no frame header before scan data")
		}
		if i+2 > len(b) {
			return Info{}, truncated(TypeJPEG, "segment length")
		}
		n := int(b[i])<<8 | int(b[i+1])
		if n < 2 {
			return Info{}, corrupt(TypeJPEG, "segment length")
		}
		end := i + n
		if isSOF(m) {
			if end > len(b) || n < 8 {
				return Info{}, truncated(TypeJPEG, "frame header")
			}
			info.Height = int(b[i+3])<<8 | int(b[i+4])
			info.Width = int(b[i+5])<<8 | int(b[i+6])
			info.BytesPerPixel = int(b[i+7]) // components
			if b[i+2] > 8 {
				info.BytesPerPixel *= 2 // 12-bit
			}
			if m == 0xC2 || m == 0xC6 || m == 0xCA || m == 0xCE {
				info.BytesPerPixel *= 2 // progressive: 2-byte coefficients of the whole image
			}
			return info, nil
		}
		if m == 0xE1 && end <= len(b) {
			if seg := b[i+2 : end]; bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
				if o, ok := exifOrientation(seg[6:]); ok {
					info.Orientation = o
				}
			}
		}
		i = end
	}
}

// isSOF reports whether m is a start-of-frame marker (SOF0..SOF15 except
// DHT C4, JPG C8 and DAC CC).
func isSOF(m byte) bool {
	return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC
}

// exifOrientation reads tag 0x0112 from IFD0 of a TIFF-structured EXIF blob.
func exifOrientation(tiff []byte) (int, bool) {
	order, ifd0, ok := tiffHeader(tiff)
	if !ok {
		return 0, false
	}
	var o int
	_, _, ok = readIFD(tiff, order, ifd0, func(e ifdEntry) {
		if v, vok := e.value(tiff, order, 0); vok && e.tag == tagOrientation && e.count == 1 && v >= 1 && v <= 8 {
			o = int(v)
		}
	})
	return o, ok && o != 0
}
