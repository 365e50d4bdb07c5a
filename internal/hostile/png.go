package hostile

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/png"
)

// pngSignature is the eight bytes every PNG starts with.
var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// PNGChunk is a PNG chunk of type typ with its CRC.
func PNGChunk(typ string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[4:]))
}

// PNGBomb is a complete 1-bit greyscale PNG of w x h zero pixels: a few
// hundred KB that would inflate to w*h/8 bytes and decode to w*h pixels. The
// deflate stream is one compressed MiB of zeros repeated (each piece ends on
// a sync flush and references nothing before it), so no test compresses
// hundreds of MB.
func PNGBomb(w, h int) []byte {
	rowLen := 1 + (w+7)/8
	total := rowLen * h
	piece := func(n int) []byte {
		var b bytes.Buffer
		fw, _ := flate.NewWriter(&b, flate.BestCompression)
		_, _ = fw.Write(make([]byte, n))
		_ = fw.Flush()
		return b.Bytes()
	}
	var z bytes.Buffer
	z.Write([]byte{0x78, 0xDA})
	const mib = 1 << 20
	whole := piece(mib)
	for range total / mib {
		z.Write(whole)
	}
	z.Write(piece(total % mib))
	var end bytes.Buffer
	fw, _ := flate.NewWriter(&end, flate.BestCompression)
	_ = fw.Close() // the final, empty block
	z.Write(end.Bytes())
	// Adler-32 of n zero bytes: a stays 1, b grows by 1 per byte.
	_ = binary.Write(&z, binary.BigEndian, uint32(total%65521)<<16|1)
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 1, 0 // bit depth 1, greyscale
	b := append(bytes.Clone(pngSignature), PNGChunk("IHDR", ihdr)...)
	b = append(b, PNGChunk("IDAT", z.Bytes())...)
	return append(b, PNGChunk("IEND", nil)...)
}

// PNGWithIHDRFields is a PNG signature, an IHDR of the given fields with a
// correct CRC, an IDAT holding an empty zlib stream and IEND: a header any
// reader accepts when its fields are sane, with no pixels behind it.
func PNGWithIHDRFields(w, h int, depth, colour, compression, filter, interlace byte) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	ihdr = append(ihdr, depth, colour, compression, filter, interlace)
	b := append(bytes.Clone(pngSignature), PNGChunk("IHDR", ihdr)...)
	b = append(b, PNGChunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	return append(b, PNGChunk("IEND", nil)...)
}

// PNGWithIHDR is PNGWithIHDRFields with standard compression and filter
// methods and no interlace.
func PNGWithIHDR(w, h int, depth, colour byte) []byte {
	return PNGWithIHDRFields(w, h, depth, colour, 0, 0, 0)
}

// PNGGrey is a real w x h 8-bit greyscale PNG of a repeating ramp, encoded
// by image/png.
func PNGGrey(w, h int) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic("hostile: png.Encode of a grey image: " + err.Error()) // cannot fail on a bytes.Buffer
	}
	return buf.Bytes()
}

// PNGBadCRC is a copy of a PNG (whose first chunk is IHDR, as the format
// requires) with the IHDR CRC wrong.
func PNGBadCRC(data []byte) []byte {
	out := bytes.Clone(data)
	out[29] ^= 0xFF // first byte of the IHDR CRC: 8 signature + 8 chunk head + 13 IHDR
	return out
}

// PNGBadIDATCRC is a copy of a PNG with the CRC of its first IDAT chunk
// wrong: the header is intact, the pixel data fails its check. A PNG without
// an IDAT is returned unchanged.
func PNGBadIDATCRC(data []byte) []byte {
	out := bytes.Clone(data)
	for off := len(pngSignature); off+12 <= len(out); {
		n := int(binary.BigEndian.Uint32(out[off:]))
		if n < 0 || n > len(out)-off-12 {
			break
		}
		if string(out[off+4:off+8]) == "IDAT" {
			out[off+8+n] ^= 0xFF
			break
		}
		off += 12 + n
	}
	return out
}
