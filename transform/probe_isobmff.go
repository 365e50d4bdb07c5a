package transform

import (
	"encoding/binary"
)

// probeISOBMFF classifies an ftyp-led file as AVIF or HEIF by its brands and
// reads the primary item's size from its ispe property (meta/pitm,
// meta/iprp/ipco, meta/iprp/ipma). If the association cannot be resolved, the
// largest ispe is used, which errs on the safe side for the pixel limit.
func probeISOBMFF(b []byte) (Info, error) {
	ftyp, ok := readBox(b, 0)
	if !ok || ftyp.typ != "ftyp" || len(ftyp.body) < 8 {
		return Info{}, truncated(TypeHEIF, "ftyp box")
	}
	t, ok := classifyBrands(ftyp.body)
	if !ok {
		return Info{}, corrupt(TypeHEIF, "ftyp: no image brand (video or other ISO-BMFF file)")
	}
	info := Info{Type: t, Frames: 1, Orientation: 1}

	var meta []byte
	for off := ftyp.end; ; {
		bx, ok := readBox(b, off)
		if !ok {
			break
		}
		if bx.typ == "meta" {
			meta = bx.body
			break
		}
		off = bx.end
	}
	if len(meta) < 4 {
		return Info{}, truncated(t, "meta box")
	}
	meta = meta[4:] // full box: version and flags

	var (
		primary    uint32
		ipco, ipma []byte
	)
	eachBox(meta, func(bx box) {
		switch bx.typ {
		case "pitm":
			if len(bx.body) >= 6 && bx.body[0] == 0 {
				primary = uint32(binary.BigEndian.Uint16(bx.body[4:6]))
			} else if len(bx.body) >= 8 {
				primary = binary.BigEndian.Uint32(bx.body[4:8])
			}
		case "iprp":
			eachBox(bx.body, func(in box) {
				switch in.typ {
				case "ipco":
					ipco = in.body
				case "ipma":
					ipma = in.body
				}
			})
		}
	})

	var props []box
	eachBox(ipco, func(bx box) { props = append(props, bx) })
	assoc := primaryProperties(ipma, primary)

	// Largest ispe first, as the fallback; then the primary item's own.
	for _, p := range props {
		if w, h, ok := ispe(p); ok && int64(w)*int64(h) > int64(info.Width)*int64(info.Height) {
			info.Width, info.Height = w, h
		}
	}
	for _, idx := range assoc {
		if idx < 1 || idx > len(props) {
			continue
		}
		p := props[idx-1]
		if w, h, ok := ispe(p); ok {
			info.Width, info.Height = w, h
		}
		if p.typ == "irot" && len(p.body) >= 1 {
			// irot turns anticlockwise; map to the EXIF orientation that
			// needs the same turn to display upright.
			info.Orientation = [4]int{1, 8, 3, 6}[p.body[0]&3]
		}
	}
	if info.Width == 0 && info.Height == 0 {
		return Info{}, truncated(t, "ispe property")
	}
	return info, nil
}

// classifyBrands looks at the major and compatible brands of an ftyp body.
func classifyBrands(body []byte) (SourceType, bool) {
	heif := false
	for i := 0; i+4 <= len(body); i += 4 {
		if i == 4 {
			continue // minor version
		}
		switch string(body[i : i+4]) {
		case "avif", "avis":
			return TypeAVIF, true
		case "heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1", "mif2":
			heif = true
		}
	}
	return TypeHEIF, heif
}

// primaryProperties returns the 1-based ipco indices associated with item.
func primaryProperties(ipma []byte, item uint32) []int {
	if len(ipma) < 8 {
		return nil
	}
	version, flags := ipma[0], ipma[3]
	count := binary.BigEndian.Uint32(ipma[4:8])
	p := ipma[8:]
	for e := uint32(0); e < count; e++ {
		var id uint32
		if version < 1 {
			if len(p) < 2 {
				return nil
			}
			id, p = uint32(binary.BigEndian.Uint16(p)), p[2:]
		} else {
			if len(p) < 4 {
				return nil
			}
			id, p = binary.BigEndian.Uint32(p), p[4:]
		}
		if len(p) < 1 {
			return nil
		}
		n := int(p[0])
		p = p[1:]
		size := 1
		if flags&1 != 0 {
			size = 2
		}
		if len(p) < n*size {
			return nil
		}
		if id == item {
			out := make([]int, 0, n)
			for a := 0; a < n; a++ {
				if size == 2 {
					out = append(out, int(binary.BigEndian.Uint16(p[2*a:])&0x7fff))
				} else {
					out = append(out, int(p[a]&0x7f))
				}
			}
			return out
		}
		p = p[n*size:]
	}
	return nil
}

// ispe reads an image spatial extents property.
func ispe(bx box) (w, h int, ok bool) {
	if bx.typ != "ispe" || len(bx.body) < 12 {
		return 0, 0, false
	}
	w64 := int64(binary.BigEndian.Uint32(bx.body[4:8]))
	h64 := int64(binary.BigEndian.Uint32(bx.body[8:12]))
	if w64 > 1<<31-1 || h64 > 1<<31-1 {
		return 1<<31 - 1, 1<<31 - 1, true // absurd; the side limit refuses it
	}
	return int(w64), int(h64), true
}

// box is one ISO-BMFF box: its type, its body and the offset after it.
type box struct {
	typ  string
	body []byte
	end  int
}

// readBox reads the box at off. A size of 0 runs to the end of b; sizes
// reaching past b are clipped, so a truncated mdat still lets the header be
// read.
func readBox(b []byte, off int) (box, bool) {
	if off < 0 || off+8 > len(b) {
		return box{}, false
	}
	size := int64(binary.BigEndian.Uint32(b[off : off+4]))
	typ := string(b[off+4 : off+8])
	hdr := int64(8)
	switch size {
	case 0:
		size = int64(len(b) - off)
	case 1:
		if off+16 > len(b) {
			return box{}, false
		}
		size = int64(binary.BigEndian.Uint64(b[off+8 : off+16]))
		hdr = 16
	}
	if size < hdr {
		return box{}, false
	}
	end := int64(off) + size
	if end > int64(len(b)) || end < 0 {
		end = int64(len(b))
	}
	return box{typ: typ, body: b[int64(off)+hdr : end], end: int(end)}, true
}

// eachBox calls fn for every box laid end to end in b.
func eachBox(b []byte, fn func(box)) {
	for off := 0; ; {
		bx, ok := readBox(b, off)
		if !ok {
			return
		}
		fn(bx)
		if bx.end <= off {
			return
		}
		off = bx.end
	}
}
