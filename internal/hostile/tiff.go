package hostile

import "encoding/binary"

// TIFFPage is one TIFF page: its size, its tile size (TileW 0: one strip),
// samples per pixel and bits per sample (0: 1 and 8).
type TIFFPage struct{ W, H, TileW, TileH, Samples, Bits int }

// TIFFPages builds a little-endian, uncompressed TIFF with one IFD per page.
// A page whose data fits in 4 MiB carries it (zeros: black); a larger one
// declares its size without holding its data.
func TIFFPages(pages []TIFFPage) []byte {
	b := []byte("II*\x00\x00\x00\x00\x00")
	u16 := func(v int) []byte { return binary.LittleEndian.AppendUint16(nil, uint16(v)) }
	u32 := func(v int) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(v)) }
	link := 4 // where to write the offset of the next IFD
	for _, p := range pages {
		if p.Samples == 0 {
			p.Samples = 1
		}
		if p.Bits == 0 {
			p.Bits = 8
		}
		// Pixel data first, then the IFD with its arrays.
		unitW, unitH, units := p.W, p.H, 1
		if p.TileW > 0 {
			unitW, unitH = p.TileW, p.TileH
			units = ((p.W + p.TileW - 1) / p.TileW) * ((p.H + p.TileH - 1) / p.TileH)
		}
		unitBytes := unitW * unitH * p.Samples * p.Bits / 8
		dataAt := len(b)
		if unitBytes*units <= 4<<20 {
			b = append(b, make([]byte, unitBytes*units)...)
		} else {
			unitBytes, units, dataAt = 0, 1, 0
		}
		bitsAt := len(b)
		for range p.Samples {
			b = append(b, u16(p.Bits)...)
		}
		offsAt := len(b)
		for u := range units {
			b = append(b, u32(dataAt+u*unitBytes)...)
		}
		countsAt := len(b)
		for range units {
			b = append(b, u32(unitBytes)...)
		}
		if len(b)%2 == 1 {
			b = append(b, 0)
		}
		type entry struct{ tag, typ, count, value int }
		bitsValue := p.Bits
		if p.Samples > 2 {
			bitsValue = bitsAt
		}
		if p.Samples == 2 {
			bitsValue = p.Bits | p.Bits<<16
		}
		photometric := 1
		if p.Samples >= 3 {
			photometric = 2
		}
		arrayOr := func(at, single int) int {
			if units == 1 {
				return single
			}
			return at
		}
		entries := []entry{
			{256, 4, 1, p.W}, {257, 4, 1, p.H}, {258, 3, p.Samples, bitsValue}, {259, 3, 1, 1}, {262, 3, 1, photometric},
		}
		if p.TileW == 0 {
			entries = append(entries, entry{273, 4, units, arrayOr(offsAt, dataAt)})
		}
		entries = append(entries, entry{277, 3, 1, p.Samples})
		if p.TileW == 0 {
			entries = append(entries, entry{278, 4, 1, p.H}, entry{279, 4, units, arrayOr(countsAt, unitBytes)})
		}
		entries = append(entries, entry{284, 3, 1, 1})
		if p.TileW > 0 {
			entries = append(entries, entry{322, 4, 1, p.TileW}, entry{323, 4, 1, p.TileH},
				entry{324, 4, units, arrayOr(offsAt, dataAt)}, entry{325, 4, units, arrayOr(countsAt, unitBytes)})
		}
		ifd := len(b)
		copy(b[link:], u32(ifd))
		b = append(b, u16(len(entries))...)
		for _, e := range entries {
			b = append(b, u16(e.tag)...)
			b = append(b, u16(e.typ)...)
			b = append(b, u32(e.count)...)
			if e.typ == 3 && e.count == 1 {
				b = append(b, u16(e.value)...)
				b = append(b, 0, 0)
			} else {
				b = append(b, u32(e.value)...)
			}
		}
		link = len(b)
		b = append(b, 0, 0, 0, 0)
	}
	return b
}

// TIFFMultiPage is a TIFF of 8-bit greyscale pages of the given sizes, each
// one strip. libvips decodes page 0 only, so a later page is invisible to
// anything that reads the first IFD alone.
func TIFFMultiPage(pages [][2]int) []byte {
	specs := make([]TIFFPage, len(pages))
	for i, p := range pages {
		specs[i] = TIFFPage{W: p[0], H: p[1]}
	}
	return TIFFPages(specs)
}

// TIFFLoop is a two-page 8x8 TIFF whose second IFD points back to the
// first: a reader that follows the chain never ends.
func TIFFLoop() []byte {
	b := TIFFMultiPage([][2]int{{8, 8}, {8, 8}})
	first := binary.LittleEndian.Uint32(b[4:8])
	second := binary.LittleEndian.Uint32(b[first+2+12*uint32(binary.LittleEndian.Uint16(b[first:])):])
	end := second + 2 + 12*uint32(binary.LittleEndian.Uint16(b[second:]))
	binary.LittleEndian.PutUint32(b[end:], first)
	return b
}

// TIFFStripPastEnd is a one-strip 8-bit greyscale TIFF of w x h whose
// StripOffsets points past the end of the file: the IFD is intact, the
// pixel data is not there.
func TIFFStripPastEnd(w, h int) []byte {
	b := TIFFMultiPage([][2]int{{w, h}})
	ifd := int(binary.LittleEndian.Uint32(b[4:8]))
	n := int(binary.LittleEndian.Uint16(b[ifd:]))
	for i := range n {
		e := ifd + 2 + 12*i
		if binary.LittleEndian.Uint16(b[e:]) == 273 { // StripOffsets
			binary.LittleEndian.PutUint32(b[e+8:], uint32(len(b)+1<<16))
		}
	}
	return b
}
