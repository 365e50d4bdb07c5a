package transform

import (
	"encoding/binary"
	"fmt"
)

// TIFF tags Probe reads.
const (
	tagImageWidth      = 256
	tagImageLength     = 257
	tagBitsPerSample   = 258
	tagOrientation     = 274
	tagSamplesPerPixel = 277
	tagTileWidth       = 322
	tagTileLength      = 323
)

// TIFF sample limits: more samples per pixel or bits per sample than these
// are refused (no cover needs them, and they multiply what a pixel costs).
const (
	tiffMaxSamples = 8
	tiffMaxBits    = 16
)

// tiffPage is what Probe reads from one IFD.
type tiffPage struct {
	width, height       int64
	tileWidth, tileLen  int64 // zero for a page in strips
	samples             int64 // SamplesPerPixel, 1 when absent
	maxBits             int64 // the largest BitsPerSample, 1 when absent
	orientation         int
	badBits, badEntries bool // a tag Probe needs of the wrong type or count
}

// probeTIFF reads every IFD of the chain. libvips decodes page 0 only, and
// Info reports its size and orientation, but every page is held to the same
// rules so that no later page can be reached that would not pass: a width
// and a height within the limits; SamplesPerPixel at most 8 and every
// BitsPerSample at most 16; and, for a tiled page, TileWidth and TileLength
// within the same side and pixel limits (libtiff allocates whole tiles,
// whatever the image size; strips need no check, as libtiff clamps
// RowsPerStrip to the image height).
//
// The walk reads each IFD once. A chain that loops (libtiff refuses it) is
// found within twice its length by Brent's cycle detection; IFDs that
// overlap are found by adding up the bytes of the IFDs visited, which
// cannot exceed the file. A next-IFD offset past the end of data ends the
// chain (a truncated file: libtiff cannot read that page either).
func probeTIFF(b []byte, maxPixels int64) (Info, error) {
	order, off, ok := tiffHeader(b)
	if !ok {
		return Info{}, truncated(TypeTIFF, "header")
	}
	info := Info{Type: TypeTIFF, Orientation: 1}
	var visited int64
	saved, power, lam := uint32(0), 1, 0 // Brent: the IFD offset saved, and steps since
	for page := 0; off != 0; page++ {
		if page > 0 && off == saved {
			return Info{}, corrupt(TypeTIFF, "IFD chain loops")
		}
		if lam++; page == 0 || lam == power {
			saved, power, lam = off, power*2, 0
		}
		p := tiffPage{samples: 1, maxBits: 1, orientation: 1}
		var seen [8]bool // the tags read below, each at most once
		next, size, ok := readIFD(b, order, off, func(e ifdEntry) {
			// libtiff keeps the first of duplicated tags: a size given
			// twice is refused rather than guessed (found by
			// FuzzProbeMatchesLoader: a second ImageWidth hid a first of
			// 3158064).
			if i := tiffSizeTagIndex(e.tag); i >= 0 {
				if seen[i] {
					p.badEntries = true
					return
				}
				seen[i] = true
			}
			switch e.tag {
			case tagImageWidth, tagImageLength, tagTileWidth, tagTileLength, tagSamplesPerPixel:
				v, ok := e.value(b, order, 0)
				if !ok || e.count != 1 {
					p.badEntries = true
					return
				}
				switch e.tag {
				case tagImageWidth:
					p.width = int64(v)
				case tagImageLength:
					p.height = int64(v)
				case tagTileWidth:
					p.tileWidth = int64(v)
				case tagTileLength:
					p.tileLen = int64(v)
				case tagSamplesPerPixel:
					p.samples = int64(v)
				}
			case tagOrientation:
				if v, ok := e.value(b, order, 0); ok && e.count == 1 {
					p.orientation = int(v)
				}
			case tagBitsPerSample:
				p.maxBits = 0
				if e.count == 0 || e.count > 256 {
					p.badBits = true
					return
				}
				for i := range e.count {
					v, ok := e.value(b, order, i)
					if !ok {
						p.badBits = true
						return
					}
					p.maxBits = max(p.maxBits, int64(v))
				}
			}
		})
		if !ok {
			if page == 0 {
				return Info{}, truncated(TypeTIFF, "IFD0")
			}
			break
		}
		if visited += size; visited > int64(len(b)) {
			return Info{}, corrupt(TypeTIFF, "IFD chain: IFDs overlap")
		}
		if err := p.check(page, maxPixels); err != nil {
			return Info{}, err
		}
		if page == 0 {
			info.Width, info.Height, info.Orientation = int(p.width), int(p.height), p.orientation
			info.BytesPerPixel = int(p.samples * ((p.maxBits + 7) / 8))
		}
		info.Frames = min(page+1, maxFrames)
		off = next
	}
	return info, nil
}

// check applies the page rules of probeTIFF.
func (p tiffPage) check(page int, maxPixels int64) error {
	switch {
	case p.badEntries:
		return corruptf(TypeTIFF, "page %d: size or sample tag of the wrong type or count", page)
	case p.badBits:
		return corruptf(TypeTIFF, "page %d: BitsPerSample unreadable", page)
	case p.samples < 1 || p.samples > tiffMaxSamples:
		return corruptf(TypeTIFF, "page %d: %d samples per pixel (at most %d)", page, p.samples, tiffMaxSamples)
	case p.maxBits < 1 || p.maxBits > tiffMaxBits:
		return corruptf(TypeTIFF, "page %d: %d bits per sample (at most %d)", page, p.maxBits, tiffMaxBits)
	}
	if err := checkDims(TypeTIFF, p.width, p.height, maxPixels); err != nil {
		return fmt.Errorf("page %d: %w", page, err)
	}
	if p.tileWidth != 0 || p.tileLen != 0 {
		if err := checkDims(TypeTIFF, p.tileWidth, p.tileLen, maxPixels); err != nil {
			return fmt.Errorf("page %d tiles: %w", page, err)
		}
	}
	return nil
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

// ifdEntry is one 12-byte IFD entry.
type ifdEntry struct {
	tag, typ uint16
	count    int
	raw      []byte // the 4-byte value or offset field
}

// value reads the i-th value of a BYTE, SHORT or LONG entry (the unsigned
// types libtiff reads these tags from), inline or at the offset the entry
// holds.
func (e ifdEntry) value(b []byte, order binary.ByteOrder, i int) (uint32, bool) {
	size := 0
	switch e.typ {
	case 1: // BYTE
		size = 1
	case 3: // SHORT
		size = 2
	case 4: // LONG
		size = 4
	default:
		return 0, false
	}
	if i >= e.count {
		return 0, false
	}
	data := e.raw
	if e.count*size > 4 {
		off := int64(order.Uint32(e.raw))
		end := off + int64(e.count*size)
		if end > int64(len(b)) {
			return 0, false
		}
		data = b[off:end]
	}
	switch size {
	case 1:
		return uint32(data[i]), true
	case 2:
		return uint32(order.Uint16(data[2*i:])), true
	}
	return order.Uint32(data[4*i:]), true
}

// tiffSizeTagIndex numbers the tags that decide a page's size and layout
// (for duplicate detection), or -1.
func tiffSizeTagIndex(tag uint16) int {
	switch tag {
	case tagImageWidth:
		return 0
	case tagImageLength:
		return 1
	case tagTileWidth:
		return 2
	case tagTileLength:
		return 3
	case tagSamplesPerPixel:
		return 4
	case tagBitsPerSample:
		return 5
	case tagOrientation:
		return 6
	}
	return -1
}

// readIFD calls fn for every entry of the IFD at off and returns the offset
// of the next IFD and the bytes the IFD takes. ok is false when the IFD does
// not fit in b.
func readIFD(b []byte, order binary.ByteOrder, off uint32, fn func(e ifdEntry)) (next uint32, size int64, ok bool) {
	start := int64(off)
	if start+2 > int64(len(b)) {
		return 0, 0, false
	}
	count := int64(order.Uint16(b[start : start+2]))
	end := start + 2 + 12*count
	if end > int64(len(b)) {
		return 0, 0, false
	}
	for e := start + 2; e < end; e += 12 {
		entry := b[e : e+12]
		fn(ifdEntry{tag: order.Uint16(entry[0:2]), typ: order.Uint16(entry[2:4]),
			count: int(min(order.Uint32(entry[4:8]), 1<<30)), raw: entry[8:12]})
	}
	if end+4 <= int64(len(b)) {
		next = order.Uint32(b[end : end+4])
	}
	return next, end + 4 - start, true
}
