package transform

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// VP8X feature flags (WebP container specification).
const (
	vp8xFlagXMP  = 0x04
	vp8xFlagEXIF = 0x08
)

// stripWebPMetadata removes the EXIF and XMP chunks from an encoded WebP
// and clears their VP8X flags, leaving image, alpha, ICC and animation
// chunks untouched. It exists because libvips 8.14's webpsave ignores
// "strip" and always writes an EXIF chunk. Input without such chunks is
// returned as is.
func stripWebPMetadata(b []byte) ([]byte, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return nil, errors.New("strip webp metadata: not a RIFF/WEBP container")
	}
	type chunk struct{ start, end int }
	var keep []chunk
	dropped := false
	for i := 12; i < len(b); {
		if i+8 > len(b) {
			return nil, fmt.Errorf("strip webp metadata: chunk header at %d cut short", i)
		}
		n := int(binary.LittleEndian.Uint32(b[i+4 : i+8]))
		end := i + 8 + n + n&1
		if n < 0 || end > len(b) || end < i {
			return nil, fmt.Errorf("strip webp metadata: chunk %q at %d overruns the file", printable(string(b[i:i+4])), i)
		}
		switch string(b[i : i+4]) {
		case "EXIF", "XMP ":
			dropped = true
		default:
			keep = append(keep, chunk{i, end})
		}
		i = end
	}
	if !dropped {
		return b, nil
	}
	out := make([]byte, 12, len(b))
	copy(out, b[:12])
	for _, c := range keep {
		start := len(out)
		out = append(out, b[c.start:c.end]...)
		if string(out[start:start+4]) == "VP8X" && len(out) > start+8 {
			out[start+8] &^= vp8xFlagEXIF | vp8xFlagXMP
		}
	}
	binary.LittleEndian.PutUint32(out[4:8], uint32(len(out)-8))
	return out, nil
}
