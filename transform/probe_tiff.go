package transform

import (
	"encoding/binary"
)

// TIFF tags Probe reads.
const (
	tagImageWidth  = 256
	tagImageLength = 257
	tagOrientation = 274
)

// probeTIFF reads ImageWidth, ImageLength and Orientation from IFD0 and
// counts pages by following the IFD chain (at most maxFrames, loops refused).
func probeTIFF(b []byte, maxPixels int64) (Info, error) {
	order, off, ok := tiffHeader(b)
	if !ok {
		return Info{}, truncated(TypeTIFF, "header")
	}
	info := Info{Type: TypeTIFF, Orientation: 1}
	next, ok := readIFD(b, order, off, func(tag uint16, v uint32) {
		switch tag {
		case tagImageWidth:
			info.Width = int(v)
		case tagImageLength:
			info.Height = int(v)
		case tagOrientation:
			info.Orientation = int(v)
		}
	})
	if !ok {
		return Info{}, truncated(TypeTIFF, "IFD0")
	}
	if err := checkDims(TypeTIFF, int64(info.Width), int64(info.Height), maxPixels); err != nil {
		return Info{}, err
	}
	info.Frames = 1
	seen := map[uint32]bool{off: true}
	for next != 0 && info.Frames < maxFrames && !seen[next] {
		seen[next] = true
		n, ok := readIFD(b, order, next, func(uint16, uint32) {})
		if !ok {
			break
		}
		info.Frames++
		next = n
	}
	return info, nil
}

// tiffHeader reads the byte order and the offset of IFD0.
func tiffHeader(b []byte) (binary.ByteOrder, uint32, bool) {
	if len(b) < 8 {
		return nil, 0, false
	}
	var order binary.ByteOrder
	switch string(b[:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return nil, 0, false
	}
	if order.Uint16(b[2:4]) != 42 {
		return nil, 0, false
	}
	return order, order.Uint32(b[4:8]), true
}

// readIFD calls fn for every single-valued SHORT or LONG entry of the IFD at
// off and returns the offset of the next IFD. ok is false when the IFD does
// not fit in b.
func readIFD(b []byte, order binary.ByteOrder, off uint32, fn func(tag uint16, v uint32)) (next uint32, ok bool) {
	start := int64(off)
	if start+2 > int64(len(b)) {
		return 0, false
	}
	count := int64(order.Uint16(b[start : start+2]))
	end := start + 2 + 12*count
	if end > int64(len(b)) {
		return 0, false
	}
	for e := start + 2; e < end; e += 12 {
		entry := b[e : e+12]
		tag := order.Uint16(entry[0:2])
		typ := order.Uint16(entry[2:4])
		if order.Uint32(entry[4:8]) != 1 {
			continue
		}
		switch typ {
		case 3: // SHORT
			fn(tag, uint32(order.Uint16(entry[8:10])))
		case 4: // LONG
			fn(tag, order.Uint32(entry[8:12]))
		}
	}
	if end+4 <= int64(len(b)) {
		next = order.Uint32(b[end : end+4])
	}
	return next, true
}
