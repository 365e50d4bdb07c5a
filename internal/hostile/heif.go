package hostile

import "encoding/binary"

// HEIFItem is one item of a HEIF built by HEIFFile.
type HEIFItem struct {
	ID     uint32
	Type   string // hvc1, av01, grid, iovl, iden, Exif...
	Hidden bool
	Props  []int // 1-based indices into HEIFSpec.Props
}

// HEIFRef is one iref reference (dimg, thmb...) from one item to others.
type HEIFRef struct {
	Type string
	From uint32
	To   []uint32
}

// HEIFLoc is one iloc entry with one extent.
type HEIFLoc struct {
	ID uint32
	// Method 0: Off is relative to the start of the mdat payload (HEIFFile
	// turns it into a file offset); 1: Off is within idat.
	Method      int
	Off, Length int
}

// HEIFSpec describes a HEIF file: brands, primary item, items, properties,
// references, locations and the bytes of idat and mdat.
type HEIFSpec struct {
	Major   string   // default heic
	Compat  []string // default mif1 and the major brand
	Primary uint32
	Items   []HEIFItem
	Props   [][]byte // complete property boxes (IspeBox, HvcCBox...)
	Refs    []HEIFRef
	Locs    []HEIFLoc
	Idat    []byte // no idat box when nil
	Mdat    []byte
}

// HEIFFile builds the file s describes: ftyp, meta (hdlr, pitm, iloc, iinf,
// iref, iprp, idat) and mdat, version 0 boxes throughout (16-bit item IDs).
func HEIFFile(s HEIFSpec) []byte {
	if s.Major == "" {
		s.Major = "heic"
	}
	if s.Compat == nil {
		s.Compat = []string{"mif1", s.Major}
	}
	u16 := func(v int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }
	u32 := func(v int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

	var infes [][]byte
	for _, it := range s.Items {
		flags := uint32(0)
		if it.Hidden {
			flags = 1
		}
		infes = append(infes, FullBox("infe", 2, flags, u16(int(it.ID)), u16(0), []byte(it.Type), []byte{0}))
	}
	iinf := FullBox("iinf", 0, 0, append([][]byte{u16(len(infes))}, infes...)...)

	var ipma []byte
	ipma = append(ipma, u32(len(s.Items))...)
	for _, it := range s.Items {
		ipma = append(ipma, u16(int(it.ID))...)
		ipma = append(ipma, byte(len(it.Props)))
		for _, p := range it.Props {
			ipma = append(ipma, byte(p))
		}
	}
	iprp := Box("iprp", Box("ipco", s.Props...), FullBox("ipma", 0, 0, ipma))

	var refs [][]byte
	for _, r := range s.Refs {
		p := append(u16(int(r.From)), u16(len(r.To))...)
		for _, to := range r.To {
			p = append(p, u16(int(to))...)
		}
		refs = append(refs, Box(r.Type, p))
	}

	hdlr := FullBox("hdlr", 0, 0, u32(0), []byte("pict"), make([]byte, 12), []byte{0})
	pitm := FullBox("pitm", 0, 0, u16(int(s.Primary)))
	iloc := func(mdatPayload int) []byte {
		p := []byte{0x44, 0x00} // offset and length 4 bytes, no base offset
		p = append(p, u16(len(s.Locs))...)
		for _, l := range s.Locs {
			off := l.Off
			if l.Method == 0 {
				off += mdatPayload
			}
			p = append(p, u16(int(l.ID))...)
			p = append(p, u16(l.Method)...)
			p = append(p, u16(0)...) // data reference index
			p = append(p, u16(1)...) // one extent
			p = append(p, u32(off)...)
			p = append(p, u32(l.Length)...)
		}
		return FullBox("iloc", 1, 0, p)
	}
	meta := func(mdatPayload int) []byte {
		children := [][]byte{hdlr, pitm, iloc(mdatPayload), iinf}
		if len(refs) > 0 {
			children = append(children, FullBox("iref", 0, 0, refs...))
		}
		children = append(children, iprp)
		if s.Idat != nil {
			children = append(children, Box("idat", s.Idat))
		}
		return FullBox("meta", 0, 0, children...)
	}
	head := append(FtypBox(s.Major, s.Compat), meta(0)...)
	head = append(FtypBox(s.Major, s.Compat), meta(len(head)+8)...) // same length: offsets are fixed-size
	return append(head, Box("mdat", s.Mdat)...)
}

// IspeBox is an ispe property: the item's w x h.
func IspeBox(w, h int) []byte {
	return FullBox("ispe", 0, 0, binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, uint32(w)), uint32(h)))
}

// IrotBox is an irot property: turns quarter turns anticlockwise.
func IrotBox(turns int) []byte { return Box("irot", []byte{byte(turns & 3)}) }

// HvcCBox is a stub hvcC property: enough for header readers, not for a
// decoder.
func HvcCBox() []byte { return Box("hvcC", make([]byte, 23)) }

// HEIFStill is a HEIF whose primary item is one hvc1 image with an ispe of
// w x h, a stub hvcC and no coded data.
func HEIFStill(major string, compat []string, w, h int) []byte {
	return HEIFFile(HEIFSpec{Major: major, Compat: compat, Primary: 1,
		Items: []HEIFItem{{ID: 1, Type: "hvc1", Props: []int{1, 2}}},
		Props: [][]byte{HvcCBox(), IspeBox(w, h)}})
}

// HEIFTile is one tile of a HEIF grid: its ispe size, no ispe at all, and
// its item type (default hvc1).
type HEIFTile struct {
	W, H   int
	NoIspe bool
	Type   string
}

// CodedImage is one real coded image taken apart: the property boxes of its
// item (ispe, av1C, pixi, colr... in file order) and its coded data. Callers
// that can encode (transform's tests, through libvips) build it; HEIFGrid
// tiles a grid with copies of it.
type CodedImage struct {
	Props [][]byte
	Data  []byte
}

// HEIFGridSpec describes a HEIF whose primary item is a grid.
type HEIFGridSpec struct {
	Rows, Cols   int
	OutW, OutH   int  // the output size in the grid payload
	Wide         bool // 32-bit output size fields
	IspeW, IspeH int  // the grid item's ispe (default: the output size)
	// Tiles are cycled over the grid's references.
	Tiles []HEIFTile
	Refs  int // dimg references (default Rows*Cols)
	// PayloadOutOfReach puts the grid payload at a file offset past the end.
	PayloadOutOfReach bool
	// Coded, when set, makes every tile a copy of one real AV1 image (its
	// properties and data) in an AVIF, so that libvips can decode the grid;
	// Tiles is then ignored.
	Coded *CodedImage
}

// HEIFGrid builds the grid g describes: item 1 is the grid (its payload in
// idat), items 2.. the hidden tiles, each with its own ispe.
func HEIFGrid(g HEIFGridSpec) []byte {
	if g.IspeW == 0 {
		g.IspeW, g.IspeH = g.OutW, g.OutH
	}
	if g.Refs == 0 {
		g.Refs = g.Rows * g.Cols
	}
	payload := []byte{0, 0, byte(g.Rows - 1), byte(g.Cols - 1)}
	if g.Wide {
		payload[1] = 1
		payload = binary.BigEndian.AppendUint32(payload, uint32(g.OutW))
		payload = binary.BigEndian.AppendUint32(payload, uint32(g.OutH))
	} else {
		payload = binary.BigEndian.AppendUint16(payload, uint16(g.OutW))
		payload = binary.BigEndian.AppendUint16(payload, uint16(g.OutH))
	}
	s := HEIFSpec{Primary: 1, Props: [][]byte{HvcCBox(), IspeBox(g.IspeW, g.IspeH)}, Idat: payload,
		Items: []HEIFItem{{ID: 1, Type: "grid", Props: []int{2}}},
		Locs:  []HEIFLoc{{ID: 1, Method: 1, Length: len(payload)}}}
	if g.PayloadOutOfReach {
		s.Locs[0] = HEIFLoc{ID: 1, Method: 0, Off: 1 << 20, Length: len(payload)}
	}
	var codedProps []int
	if g.Coded != nil {
		s.Major, s.Compat, s.Mdat = "avif", []string{"mif1", "avif", "miaf"}, g.Coded.Data
		for _, p := range g.Coded.Props {
			s.Props = append(s.Props, p)
			codedProps = append(codedProps, len(s.Props))
		}
	}
	ref := HEIFRef{Type: "dimg", From: 1}
	propOf := map[[2]int]int{}
	for i := range g.Refs {
		id := uint32(2 + i)
		if g.Coded != nil {
			s.Items = append(s.Items, HEIFItem{ID: id, Type: "av01", Hidden: true, Props: codedProps})
			s.Locs = append(s.Locs, HEIFLoc{ID: id, Length: len(g.Coded.Data)})
			ref.To = append(ref.To, id)
			continue
		}
		t := g.Tiles[i%len(g.Tiles)]
		props := []int{1}
		if !t.NoIspe {
			k := [2]int{t.W, t.H}
			if propOf[k] == 0 {
				s.Props = append(s.Props, IspeBox(t.W, t.H))
				propOf[k] = len(s.Props)
			}
			props = append(props, propOf[k])
		}
		typ := t.Type
		if typ == "" {
			typ = "hvc1"
		}
		s.Items = append(s.Items, HEIFItem{ID: id, Type: typ, Hidden: true, Props: props})
		ref.To = append(ref.To, id)
	}
	s.Refs = []HEIFRef{ref}
	return HEIFFile(s)
}

// HEIFDerived is a HEIF whose primary item 1 is a derived image of type typ
// (iovl or iden) with an ispe of w x h and its payload in idat (none when
// nil), referencing one hidden hvc1 item per entry of images, each with an
// ispe of that size.
func HEIFDerived(typ string, w, h int, payload []byte, images ...[2]int) []byte {
	s := HEIFSpec{Primary: 1, Props: [][]byte{HvcCBox(), IspeBox(w, h)}, Idat: payload,
		Items: []HEIFItem{{ID: 1, Type: typ, Props: []int{2}}}}
	if payload != nil {
		s.Locs = []HEIFLoc{{ID: 1, Method: 1, Length: len(payload)}}
	}
	ref := HEIFRef{Type: "dimg", From: 1}
	for i, im := range images {
		s.Props = append(s.Props, IspeBox(im[0], im[1]))
		id := uint32(2 + i)
		s.Items = append(s.Items, HEIFItem{ID: id, Type: "hvc1", Hidden: true, Props: []int{1, len(s.Props)}})
		ref.To = append(ref.To, id)
	}
	s.Refs = []HEIFRef{ref}
	return HEIFFile(s)
}

// HEIFOverlayPayload is the payload of an iovl item: version 0, an opaque
// black fill, a canvasW x canvasH canvas and images offsets of (0,0), in 16-bit
// fields or, when wide, 32-bit ones.
func HEIFOverlayPayload(wide bool, canvasW, canvasH, images int) []byte {
	p := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF} // version, flags, fill colour (RGBA, 16 bits each)
	field := func(v int) {
		if wide {
			p = binary.BigEndian.AppendUint32(p, uint32(v))
		} else {
			p = binary.BigEndian.AppendUint16(p, uint16(v))
		}
	}
	if wide {
		p[1] = 1
	}
	field(canvasW)
	field(canvasH)
	for range 2 * images {
		field(0)
	}
	return p
}

// HEIFOverlay is a HEIF whose primary item is an iovl overlay: its ispe and
// its payload canvas (16-bit fields) are canvasW x canvasH, and it places
// one image of each size of images at (0,0).
func HEIFOverlay(canvasW, canvasH int, images ...[2]int) []byte {
	return HEIFDerived("iovl", canvasW, canvasH, HEIFOverlayPayload(false, canvasW, canvasH, len(images)), images...)
}
