package transform

import (
	"encoding/binary"
	"fmt"
)

// heifMaxSteps bounds the records (item infos, property associations,
// properties, item locations) Probe visits to resolve one HEIF file. A file
// whose tables are sorted by item ID, as writers lay them out, costs about
// one visit per record; a grid whose tiles force table rescans beyond the
// budget is refused as too complex to verify.
const heifMaxSteps = 1 << 21

// probeISOBMFF reads an ftyp-led file the way libvips 8.14 and libheif 1.15
// do, and bounds what libheif will decode.
//
// Type: libvips' heifload takes the file only if its ftyp box is at most
// 2048 bytes, a multiple of 4, and its MAJOR brand is one of heic, heix,
// hevc, heim, heis, hevm, hevs, mif1, msf1 or avif (heif_magic in
// heifload.c); compatible brands do not count, so a PNG or TGA behind an
// ftyp box whose compatible brands say mif1 is ErrNotAnImage. libheif then
// wants heic, heix, mif1 or avif among the compatible brands. The major
// brand avif is TypeAVIF, the others TypeHEIF.
//
// Size: the last top-level meta box (the one libheif keeps) must name a
// primary item (pitm) that is a visible image item in iinf, with an ispe
// property; without one Probe refuses rather than guesses. Every ispe
// associated with the primary item is checked against the limits, and the
// last one (libheif's) is reported. When the primary item is derived (grid,
// iovl, iden), libheif allocates the derived canvas and decodes every image
// it references (iref dimg): the canvas size from the item's payload (from
// idat or the file, through iloc; the item's ispe when the payload is out of
// reach, in which case libheif cannot read it either), each referenced
// item's ispe, and the sum of their pixels are checked too. A referenced item
// that is itself derived, missing or without ispe is refused.
func probeISOBMFF(b []byte, maxPixels int64) (Info, error) {
	if len(b) < 12 {
		return Info{}, truncated(TypeHEIF, "ftyp box")
	}
	if n := binary.BigEndian.Uint32(b[0:4]); n > 2048 || n%4 != 0 {
		return Info{}, corruptf(TypeHEIF, "ftyp box of %d bytes (libvips takes up to 2048, a multiple of 4)", n)
	}
	t, ok := heifMajorBrand(b[8:12])
	if !ok {
		return Info{}, corruptf(TypeHEIF, "ftyp major brand %q is not one libvips' heifload takes (video or other ISO-BMFF file)", printable(string(b[8:12])))
	}

	var ftyp, meta box
	haveMeta := false
	for off := 0; ; {
		bx, ok := readBox(b, off)
		if !ok {
			break
		}
		switch {
		case bx.is("ftyp"):
			ftyp = bx
		case bx.is("meta"):
			meta, haveMeta = bx, true
		}
		if bx.end <= off {
			break
		}
		off = bx.end
	}
	if !heifCompatible(ftyp.body) {
		return Info{}, corrupt(t, "ftyp: no compatible brand libheif supports (heic, heix, mif1, avif)")
	}
	if !haveMeta || len(meta.body) < 4 {
		return Info{}, truncated(t, "meta box")
	}
	var m heifMeta
	if err := m.init(t, b, meta.body[4:]); err != nil {
		return Info{}, err
	}

	prim, ok := m.items.find(&m.steps, m.primary)
	if !ok {
		return Info{}, m.lookupError("primary item %d not in iinf", m.primary)
	}
	typ, hidden := infeType(prim)
	if hidden {
		return Info{}, corruptf(t, "primary item %d is hidden", m.primary)
	}
	kind := heifItemKind(typ)
	if kind == heifNotImage {
		return Info{}, corruptf(t, "primary item %d of type %q is not an image", m.primary, printable(string(typ)))
	}
	w, h, orientation, err := m.itemSize(m.primary, maxPixels)
	if err != nil {
		return Info{}, err
	}
	if err := checkDims(t, w, h, maxPixels); err != nil {
		return Info{}, err
	}
	if kind != heifCoded {
		if err := m.checkDerived(m.primary, typ, maxPixels); err != nil {
			return Info{}, err
		}
	}
	return Info{Type: t, Width: int(w), Height: int(h), Frames: 1, Orientation: orientation}, nil
}

// heifMajorBrand maps the major brands of libvips 8.14's heif_magic list to
// a source type.
func heifMajorBrand(brand []byte) (SourceType, bool) {
	switch string(brand) {
	case "avif":
		return TypeAVIF, true
	case "heic", "heix", "hevc", "heim", "heis", "hevm", "hevs", "mif1", "msf1":
		return TypeHEIF, true
	}
	return "", false
}

// heifCompatible reports whether an ftyp body lists one of the compatible
// brands libheif 1.15 requires.
func heifCompatible(body []byte) bool {
	for i := 8; i+4 <= len(body); i += 4 {
		switch string(body[i : i+4]) {
		case "heic", "heix", "mif1", "avif":
			return true
		}
	}
	return false
}

// Item kinds, as libheif 1.15 sees item types.
const (
	heifNotImage = iota
	heifCoded    // hvc1, av01, vvc1: one codec bitstream
	heifDerived  // grid, iovl, iden: built from other image items
)

func heifItemKind(typ []byte) int {
	switch string(typ) {
	case "hvc1", "av01", "vvc1":
		return heifCoded
	case "grid", "iovl", "iden":
		return heifDerived
	}
	return heifNotImage
}

// heifMeta holds the children of a meta box that Probe resolves items with.
// Every slice points into the original data.
type heifMeta struct {
	t       SourceType
	file    []byte
	primary uint32
	items   itemList // iinf: infe boxes
	assoc   itemList // ipma: property associations
	iref    []byte   // iref children
	irefV1  bool     // 32-bit item IDs in iref
	ipco    []byte
	iloc    []byte // iloc body, full box header included
	idat    []byte
	hasIdat bool
	steps   int

	// The last ipco property found, to resume the walk from.
	propIdx, propOff int
}

// init finds the first pitm, iinf, iref, iprp (its ipco and ipma),
// iloc and idat of a meta box body (after its full box header), as libheif
// does, and refuses a file missing a box libheif needs.
func (m *heifMeta) init(t SourceType, file, body []byte) error {
	*m = heifMeta{t: t, file: file}
	var havePitm, haveIinf, haveIprp, haveIloc, haveIref bool
	var iprp []byte
	for off := 0; ; {
		bx, ok := readBox(body, off)
		if !ok {
			break
		}
		switch {
		case bx.is("pitm") && !havePitm:
			p := bx.body
			switch {
			case len(p) >= 6 && p[0] == 0:
				m.primary, havePitm = uint32(binary.BigEndian.Uint16(p[4:6])), true
			case len(p) >= 8 && p[0] != 0:
				m.primary, havePitm = binary.BigEndian.Uint32(p[4:8]), true
			}
		case bx.is("iinf") && !haveIinf && len(bx.body) >= 4:
			n := 2
			if bx.body[0] != 0 {
				n = 4
			}
			if len(bx.body) >= 4+n {
				m.items = itemList{kind: 'i', data: bx.body[4+n:]}
				haveIinf = true
			}
		case bx.is("iref") && !haveIref && len(bx.body) >= 4:
			m.iref, m.irefV1, haveIref = bx.body[4:], bx.body[0] != 0, true
		case bx.is("iprp") && !haveIprp:
			iprp, haveIprp = bx.body, true
		case bx.is("iloc") && !haveIloc:
			m.iloc, haveIloc = bx.body, true
		case bx.is("idat") && !m.hasIdat:
			m.idat, m.hasIdat = bx.body, true
		}
		if bx.end <= off {
			break
		}
		off = bx.end
	}
	ipmas, haveIpco := 0, false
	for off := 0; ; {
		bx, ok := readBox(iprp, off)
		if !ok {
			break
		}
		switch {
		case bx.is("ipco") && !haveIpco:
			m.ipco, haveIpco = bx.body, true
		case bx.is("ipma"):
			ipmas++
			if ipmas == 1 && len(bx.body) >= 8 {
				m.assoc = itemList{kind: 'p', data: bx.body[8:], wide: bx.body[0] != 0,
					wideIndex: bx.body[3]&1 != 0, count: int64(binary.BigEndian.Uint32(bx.body[4:8]))}
			}
		}
		if bx.end <= off {
			break
		}
		off = bx.end
	}
	switch {
	case !havePitm:
		return corrupt(t, "meta: no pitm box")
	case !haveIinf:
		return corrupt(t, "meta: no iinf box")
	case !haveIpco:
		return corrupt(t, "meta: no ipco box")
	case ipmas == 0:
		return corrupt(t, "meta: no ipma box")
	case ipmas > 1:
		// libheif merges them; Probe does not, so it does not guess.
		return corruptf(t, "meta: %d ipma boxes", ipmas)
	}
	return nil
}

// lookupError reports a failed lookup: the step budget ran out, or the
// record is not there.
func (m *heifMeta) lookupError(format string, args ...any) error {
	if m.steps > heifMaxSteps {
		return corrupt(m.t, "meta: too many items to verify")
	}
	return corruptf(m.t, format, args...)
}

// itemSize reads the size of item id from its ispe properties: each one is
// checked against the limits, and the last one (the one libheif keeps) is
// returned, with the EXIF orientation equivalent to its irot. An item with
// no property associations, an association past the last property or no
// ispe is refused, as libheif refuses the first two.
func (m *heifMeta) itemSize(id uint32, maxPixels int64) (w, h int64, orientation int, err error) {
	assoc, ok := m.assoc.find(&m.steps, id)
	if !ok {
		return 0, 0, 0, m.lookupError("item %d has no properties", id)
	}
	orientation = 1
	have := false
	size := 1
	if m.assoc.wideIndex {
		size = 2
	}
	for a := 0; a+size <= len(assoc); a += size {
		idx := int(assoc[a] & 0x7f)
		if size == 2 {
			idx = int(binary.BigEndian.Uint16(assoc[a:]) & 0x7fff)
		}
		if idx == 0 {
			continue
		}
		p, ok := m.property(idx)
		if !ok {
			return 0, 0, 0, m.lookupError("item %d associated with property %d, which does not exist", id, idx)
		}
		switch {
		case p.is("ispe"):
			if len(p.body) < 12 {
				return 0, 0, 0, corrupt(m.t, "ispe property")
			}
			w = int64(binary.BigEndian.Uint32(p.body[4:8]))
			h = int64(binary.BigEndian.Uint32(p.body[8:12]))
			if err := checkLimits(m.t, w, h, maxPixels); err != nil {
				return 0, 0, 0, err
			}
			have = true
		case p.is("irot") && len(p.body) >= 1:
			// irot turns anticlockwise; map to the EXIF orientation that
			// needs the same turn to display upright.
			orientation = [4]int{1, 8, 3, 6}[p.body[0]&3]
		}
	}
	if !have {
		return 0, 0, 0, corruptf(m.t, "item %d has no ispe property", id)
	}
	return w, h, orientation, nil
}

// property returns the idx-th (1-based) box of ipco, walking on from the
// last one found when idx is not before it.
func (m *heifMeta) property(idx int) (box, bool) {
	i, off := 1, 0
	if m.propIdx > 0 && idx >= m.propIdx {
		i, off = m.propIdx, m.propOff
	}
	for ; ; i++ {
		bx, ok := readBox(m.ipco, off)
		if !ok {
			return box{}, false
		}
		if m.steps++; m.steps > heifMaxSteps {
			return box{}, false
		}
		if i == idx {
			m.propIdx, m.propOff = i, off
			return bx, true
		}
		if bx.end <= off {
			return box{}, false
		}
		off = bx.end
	}
}

// checkDerived checks what libheif allocates to decode a derived item: the
// canvas its payload declares (grid, iovl) and every item it references.
func (m *heifMeta) checkDerived(id uint32, typ []byte, maxPixels int64) error {
	// The longest payload read: an iovl with 32-bit fields up to its height.
	var payload [2 + 8 + 8]byte
	n, reachable := m.itemData(id, payload[:])
	tiles := -1
	if reachable {
		wide := payload[1]&1 != 0
		var sizeAt int // offset of the output width
		switch string(typ) {
		case "grid": // version, flags, rows-1, columns-1, output width and height
			sizeAt = 4
			tiles = (int(payload[2]) + 1) * (int(payload[3]) + 1)
		case "iovl": // version, flags, fill colour (4 x 16 bits), canvas width and height
			if payload[0] != 0 {
				return corrupt(m.t, "iovl payload version")
			}
			sizeAt = 10
		}
		if sizeAt > 0 {
			var ow, oh int64
			switch {
			case !wide && n >= sizeAt+4:
				ow = int64(binary.BigEndian.Uint16(payload[sizeAt:]))
				oh = int64(binary.BigEndian.Uint16(payload[sizeAt+2:]))
			case wide && n >= sizeAt+8:
				ow = int64(binary.BigEndian.Uint32(payload[sizeAt:]))
				oh = int64(binary.BigEndian.Uint32(payload[sizeAt+4:]))
			default:
				return corruptf(m.t, "%s payload of %d bytes", typ, n)
			}
			if err := checkDims(m.t, ow, oh, maxPixels); err != nil {
				return fmt.Errorf("%s output canvas: %w", typ, err)
			}
		}
	}

	refs, wide, count, ok := m.references(id, "dimg")
	if !ok || count == 0 {
		return m.lookupError("derived item %d references no image", id)
	}
	if tiles >= 0 && count != tiles {
		return corruptf(m.t, "grid of %d tiles references %d images", tiles, count)
	}
	size := 2
	if wide {
		size = 4
	}
	var sum int64
	for r := 0; r < count; r++ {
		ref := uint32(0)
		if wide {
			ref = binary.BigEndian.Uint32(refs[r*size:])
		} else {
			ref = uint32(binary.BigEndian.Uint16(refs[r*size:]))
		}
		it, ok := m.items.find(&m.steps, ref)
		if !ok {
			return m.lookupError("derived item %d references item %d, not in iinf", id, ref)
		}
		rt, _ := infeType(it)
		if heifItemKind(rt) != heifCoded {
			return corruptf(m.t, "derived item %d references item %d of type %q (only coded images are verified)", id, ref, printable(string(rt)))
		}
		w, h, _, err := m.itemSize(ref, maxPixels)
		if err != nil {
			return err
		}
		if err := checkDims(m.t, w, h, maxPixels); err != nil {
			return err
		}
		sum += w * h
		if maxPixels > 0 && sum > maxPixels {
			return fmt.Errorf("%s: %s item %d: the first %d of its %d images hold %d pixels, limit %d: %w",
				m.t, typ, id, r+1, count, sum, maxPixels, ErrTooManyPixels)
		}
	}
	return nil
}

// references returns the to_item_IDs of the first iref reference of type
// typ from item from (as libheif's get_references does), their width and
// their count (clipped to the bytes present).
func (m *heifMeta) references(from uint32, typ string) (refs []byte, wide bool, count int, ok bool) {
	size := 2
	if m.irefV1 {
		size = 4
	}
	for off := 0; ; {
		bx, ok := readBox(m.iref, off)
		if !ok {
			return nil, false, 0, false
		}
		if m.steps++; m.steps > heifMaxSteps {
			return nil, false, 0, false
		}
		p := bx.body
		if bx.is(typ) && len(p) >= size+2 {
			id := uint32(0)
			if size == 4 {
				id = binary.BigEndian.Uint32(p)
			} else {
				id = uint32(binary.BigEndian.Uint16(p))
			}
			if id == from {
				n := int(binary.BigEndian.Uint16(p[size:]))
				list := p[size+2:]
				return list, size == 4, min(n, len(list)/size), true
			}
		}
		if bx.end <= off {
			return nil, false, 0, false
		}
		off = bx.end
	}
}

// itemData copies the first len(dst) bytes of item id's data into dst,
// following its iloc extents as libheif 1.15 reads them (construction
// method 0: the file; 1: idat; offsets, lengths and base offsets of 4 or 8
// bytes, any other size reading as 0). reachable is false when the item has
// no location, uses a method libheif does not implement, or has an extent
// out of reach: libheif cannot read the item either.
func (m *heifMeta) itemData(id uint32, dst []byte) (n int, reachable bool) {
	p := m.iloc
	if len(p) < 6 {
		return 0, false
	}
	version := p[0]
	v := binary.BigEndian.Uint16(p[4:6])
	offSize, lenSize, baseSize := int(v>>12), int(v>>8&0xf), int(v>>4&0xf)
	idxSize := 0
	if version > 1 {
		idxSize = int(v & 0xf)
	}
	r := ilocReader{p: p[6:]}
	idSize := 2
	if version >= 2 {
		idSize = 4
	}
	count := r.fixed(idSize)
	if count > 20000 { // libheif's MAX_ILOC_ITEMS
		return 0, false
	}
	for i := uint64(0); i < count && !r.short; i++ {
		if m.steps++; m.steps > heifMaxSteps {
			return 0, false
		}
		item := r.fixed(idSize)
		method := uint64(0)
		if version >= 1 {
			method = r.fixed(2) & 0xf
		}
		r.fixed(2) // data_reference_index
		base := r.sized(baseSize)
		extents := r.fixed(2)
		if extents > 32 { // libheif's MAX_ILOC_EXTENTS_PER_ITEM
			return 0, false
		}
		mine := item == uint64(id)
		for e := uint64(0); e < extents && !r.short; e++ {
			r.sized(idxSize)
			off, length := r.sized(offSize), r.sized(lenSize)
			if !mine || n >= len(dst) {
				continue
			}
			src := m.file
			switch {
			case method == 1 && m.hasIdat:
				src = m.idat
			case method != 0:
				return 0, false
			}
			start, end := base+off, base+off+length
			if start < base || end < start || end > uint64(len(src)) {
				return 0, false
			}
			n += copy(dst[n:], src[start:end])
		}
		if mine {
			return n, !r.short
		}
	}
	return 0, false
}

// ilocReader reads the integers of an iloc box; short is set once a read
// runs past its end.
type ilocReader struct {
	p     []byte
	short bool
}

// fixed reads a 2- or 4-byte field.
func (r *ilocReader) fixed(size int) uint64 {
	if len(r.p) < size {
		r.short, r.p = true, nil
		return 0
	}
	v := uint64(binary.BigEndian.Uint16(r.p))
	if size == 4 {
		v = uint64(binary.BigEndian.Uint32(r.p))
	}
	r.p = r.p[size:]
	return v
}

// sized reads a field whose size the iloc header gives: 4 or 8 bytes are
// read, any other size reads nothing and is 0, as in libheif.
func (r *ilocReader) sized(size int) uint64 {
	if size != 4 && size != 8 {
		return 0
	}
	if len(r.p) < size {
		r.short, r.p = true, nil
		return 0
	}
	v := uint64(binary.BigEndian.Uint32(r.p))
	if size == 8 {
		v = binary.BigEndian.Uint64(r.p)
	}
	r.p = r.p[size:]
	return v
}

// infeType reads the item type and hidden flag of an infe body (full box
// header included). Versions 0 and 1 carry no item type.
func infeType(body []byte) (typ []byte, hidden bool) {
	switch v := body[0]; {
	case v == 2:
		return body[8:12], body[3]&1 != 0
	case v > 2:
		return body[10:14], body[3]&1 != 0
	}
	return nil, false
}

// itemList walks the records of an iinf (infe boxes) or ipma (property
// associations) keyed by item ID, returning the first record of an ID as
// libheif does. When the IDs are strictly increasing, as writers lay them
// out, it resumes each search where the previous one ended, so looking up
// every tile of a grid in order costs one pass.
type itemList struct {
	kind      byte // 'i': infe boxes; 'p': ipma entries
	data      []byte
	wide      bool  // ipma: 32-bit item IDs
	wideIndex bool  // ipma: 15-bit property indices
	count     int64 // ipma: entry count

	scanned bool   // sorted and end are known
	sorted  bool   // IDs strictly increasing
	end     int    // offset after the last record
	cur     int    // offset after the last record found
	curID   uint32 // ID of the last record found
}

// at reads the record at off: its item ID, its payload (the infe body, or
// the association bytes) and the offset after it. A record that does not
// fit ends the list, as it ends libheif's parse.
func (l *itemList) at(off int) (id uint32, rec []byte, next int, ok bool) {
	if l.kind == 'i' {
		for {
			bx, ok := readBox(l.data, off)
			if !ok || bx.end <= off {
				return 0, nil, 0, false
			}
			if !bx.is("infe") {
				off = bx.end
				continue
			}
			p := bx.body
			switch {
			case len(p) < 4:
				return 0, nil, 0, false
			case p[0] <= 1 && len(p) >= 6:
				return uint32(binary.BigEndian.Uint16(p[4:6])), p, bx.end, true
			case p[0] == 2 && len(p) >= 12:
				return uint32(binary.BigEndian.Uint16(p[4:6])), p, bx.end, true
			case p[0] > 2 && len(p) >= 14:
				return binary.BigEndian.Uint32(p[4:8]), p, bx.end, true
			}
			return 0, nil, 0, false
		}
	}
	p := l.data[min(off, len(l.data)):]
	n := 2
	if l.wide {
		n = 4
	}
	if len(p) < n+1 {
		return 0, nil, 0, false
	}
	if l.wide {
		id = binary.BigEndian.Uint32(p)
	} else {
		id = uint32(binary.BigEndian.Uint16(p))
	}
	size := int(p[n])
	if l.wideIndex {
		size *= 2
	}
	if len(p) < n+1+size {
		return 0, nil, 0, false
	}
	return id, p[n+1 : n+1+size], off + n + 1 + size, true
}

// scan walks the list once to learn where it ends and whether its IDs are
// strictly increasing.
func (l *itemList) scan(steps *int) {
	l.scanned, l.sorted = true, true
	first, prev := true, uint32(0)
	off := 0
	for i := int64(0); l.kind == 'i' || i < l.count; i++ {
		id, _, next, ok := l.at(off)
		if !ok {
			break
		}
		if *steps++; *steps > heifMaxSteps {
			break
		}
		if !first && id <= prev {
			l.sorted = false
		}
		first, prev, off = false, id, next
	}
	l.end = off
}

// find returns the first record of item id.
func (l *itemList) find(steps *int, id uint32) ([]byte, bool) {
	if !l.scanned {
		l.scan(steps)
	}
	off := 0
	if l.sorted && l.cur > 0 && l.curID < id {
		off = l.cur
	}
	for off < l.end {
		rid, rec, next, ok := l.at(off)
		if !ok {
			return nil, false
		}
		if *steps++; *steps > heifMaxSteps {
			return nil, false
		}
		if rid == id {
			l.cur, l.curID = next, id
			return rec, true
		}
		if l.sorted && rid > id {
			return nil, false
		}
		off = next
	}
	return nil, false
}

// box is one ISO-BMFF box: its four-character type, its body and the offset
// after it.
type box struct {
	typ  []byte
	body []byte
	end  int
}

// is reports whether the box has type t.
func (bx box) is(t string) bool { return string(bx.typ) == t }

// readBox reads the box at off. A size of 0 runs to the end of b; sizes
// reaching past b are clipped, so a truncated mdat still lets the header be
// read.
func readBox(b []byte, off int) (box, bool) {
	if off < 0 || off+8 > len(b) {
		return box{}, false
	}
	size := int64(binary.BigEndian.Uint32(b[off : off+4]))
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
	return box{typ: b[off+4 : off+8], body: b[int64(off)+hdr : end], end: int(end)}, true
}
