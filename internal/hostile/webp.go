package hostile

import "encoding/binary"

// WebPLossless is a simple (not extended) lossless WebP of w x h, opaque
// black (w, h <= 16384). It is a real file: libwebp decodes it.
func WebPLossless(w, h int) []byte { return riffWebP(vp8lChunk(w, h)) }

// WebPStill is an extended still WebP: a VP8X canvas of canvasW x canvasH
// holding a lossless bitstream of bitW x bitH, or no bitstream when bitW is
// 0. libwebp decodes the bitstream's size, whatever the canvas says.
func WebPStill(canvasW, canvasH, bitW, bitH int) []byte {
	chunks := [][]byte{vp8xChunk(0, canvasW, canvasH)}
	if bitW > 0 {
		chunks = append(chunks, vp8lChunk(bitW, bitH))
	}
	return riffWebP(chunks...)
}

// WebPFrame is one ANMF frame of an animated WebP: its offset on the canvas
// (even: the format stores half of it), the size its ANMF header declares,
// and the size of the lossless bitstream it holds (BitW 0: the declared
// size).
type WebPFrame struct{ X, Y, W, H, BitW, BitH int }

// WebPAnim is an animated WebP on a canvasW x canvasH canvas with one ANMF
// chunk per frame, each holding a lossless bitstream (100 ms per frame).
// With no frames, it is the animation flag alone.
func WebPAnim(canvasW, canvasH int, frames ...WebPFrame) []byte {
	chunks := [][]byte{vp8xChunk(0x02, canvasW, canvasH), riffChunk("ANIM", make([]byte, 6))}
	for _, f := range frames {
		bw, bh := f.BitW, f.BitH
		if bw == 0 {
			bw, bh = f.W, f.H
		}
		p := le24(f.X / 2)
		p = append(p, le24(f.Y/2)...)
		p = append(p, le24(f.W-1)...)
		p = append(p, le24(f.H-1)...)
		p = append(p, le24(100)...) // duration
		p = append(p, 0)
		chunks = append(chunks, riffChunk("ANMF", append(p, vp8lChunk(bw, bh)...)))
	}
	return riffWebP(chunks...)
}

// WebPAnimFrameBeyondCanvas is an animated WebP whose one frame of
// frameW x frameH sits at (frameX, frameY) of a canvasW x canvasH canvas.
func WebPAnimFrameBeyondCanvas(canvasW, canvasH, frameX, frameY, frameW, frameH int) []byte {
	return WebPAnim(canvasW, canvasH, WebPFrame{X: frameX, Y: frameY, W: frameW, H: frameH})
}

// bitWriter packs bits least significant first, as VP8L reads them.
type bitWriter struct {
	b    []byte
	used uint
}

func (w *bitWriter) write(v uint32, n uint) {
	for i := range n {
		if w.used%8 == 0 {
			w.b = append(w.b, 0)
		}
		w.b[len(w.b)-1] |= byte(v>>i&1) << (w.used % 8)
		w.used++
	}
}

// vp8lChunk is a VP8L chunk of a w x h opaque black image (w, h <= 16384):
// no transform, no colour cache, and five prefix codes of one symbol each,
// so pixels take no bits and any size fits in a few bytes (libwebp decodes
// it).
func vp8lChunk(w, h int) []byte {
	bw := &bitWriter{b: []byte{0x2f}, used: 8}
	bw.write(uint32(w-1), 14)
	bw.write(uint32(h-1), 14)
	bw.write(0, 1)                                  // alpha hint
	bw.write(0, 3)                                  // version
	bw.write(0, 1)                                  // no transform
	bw.write(0, 1)                                  // no colour cache
	bw.write(0, 1)                                  // no meta prefix codes
	for _, sym := range []uint32{0, 0, 0, 255, 0} { // green, red, blue, alpha, distance
		bw.write(1, 1) // simple code
		bw.write(0, 1) // one symbol
		if sym > 1 {
			bw.write(1, 1)
			bw.write(sym, 8)
		} else {
			bw.write(0, 1)
			bw.write(sym, 1)
		}
	}
	return riffChunk("VP8L", bw.b)
}

// riffChunk is a RIFF chunk with its pad byte.
func riffChunk(fourcc string, payload []byte) []byte {
	b := append([]byte(fourcc), binary.LittleEndian.AppendUint32(nil, uint32(len(payload)))...)
	b = append(b, payload...)
	if len(payload)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

// riffWebP wraps chunks in a RIFF WEBP header.
func riffWebP(chunks ...[]byte) []byte {
	body := []byte("WEBP")
	for _, c := range chunks {
		body = append(body, c...)
	}
	return append(binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(len(body))), body...)
}

// vp8xChunk is a VP8X chunk with flags and a w x h canvas.
func vp8xChunk(flags byte, w, h int) []byte {
	p := []byte{flags, 0, 0, 0}
	p = append(p, le24(w-1)...)
	return riffChunk("VP8X", append(p, le24(h-1)...))
}

// le24 is v as a 24-bit little-endian field.
func le24(v int) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16)} }

// WebPLosslessNoPixels is a simple lossless WebP whose VP8L chunk holds the
// bitstream header of a w x h image and nothing after it: the RIFF and chunk
// sizes agree with the file, the image data is missing.
func WebPLosslessNoPixels(w, h int) []byte {
	full := vp8lChunk(w, h)
	return riffWebP(riffChunk("VP8L", full[8:8+5]))
}
