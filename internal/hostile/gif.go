package hostile

import (
	"bytes"
	"compress/lzw"
	"encoding/binary"
	"image"
	"image/gif"
)

// GIFScreen is a complete GIF, encoded by image/gif, whose one frame is a
// single red pixel on a w x h logical screen.
func GIFScreen(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 1, 1))
	copy(img.Pix, []byte{255, 0, 0, 255})
	var buf bytes.Buffer
	_ = gif.Encode(&buf, img, nil)
	b := buf.Bytes()
	binary.LittleEndian.PutUint16(b[6:], uint16(w))
	binary.LittleEndian.PutUint16(b[8:], uint16(h))
	return b
}

// GIFFrame is one GIF image descriptor: its position on the logical screen
// and its size.
type GIFFrame struct{ Left, Top, W, H int }

// GIFWithFrames is a GIF89a with a screenW x screenH logical screen, a
// two-colour global table (black, white) and one image per frame. A frame of
// up to 4 MP carries real LZW data of one colour (libnsgif decodes it); a
// larger one only a clear code and an end code, which header readers accept
// and decoders do not. Sizes and offsets are written as 16-bit fields.
func GIFWithFrames(screenW, screenH int, frames ...GIFFrame) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, uint16(screenW))
	b = binary.LittleEndian.AppendUint16(b, uint16(screenH))
	b = append(b, 0x80, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF) // global table: black, white
	for _, f := range frames {
		b = append(b, 0x2C)
		for _, v := range []int{f.Left, f.Top, f.W, f.H} {
			b = binary.LittleEndian.AppendUint16(b, uint16(v))
		}
		b = append(b, 0, 2) // no local table; LZW minimum code size 2
		var data []byte
		if n := f.W * f.H; n <= 4<<20 {
			var z bytes.Buffer
			w := lzw.NewWriter(&z, lzw.LSB, 2)
			_, _ = w.Write(make([]byte, n)) // writes to a bytes.Buffer do not fail
			_ = w.Close()
			data = z.Bytes()
		} else {
			data = []byte{0x2C} // 3-bit codes: clear (4), end (5)
		}
		for len(data) > 0 {
			n := min(len(data), 255)
			b = append(b, byte(n))
			b = append(b, data[:n]...)
			data = data[n:]
		}
		b = append(b, 0)
	}
	return append(b, 0x3B)
}

// GIFFrameBeyondScreen is a GIF whose logical screen says screenW x screenH
// and whose only frame, at (0,0), is frameW x frameH. libnsgif grows its
// canvas to the first frame, so a tiny screen does not bound what it
// allocates.
func GIFFrameBeyondScreen(screenW, screenH, frameW, frameH int) []byte {
	return GIFWithFrames(screenW, screenH, GIFFrame{W: frameW, H: frameH})
}

// GIFDescriptorOnly is a GIF whose only image descriptor (a frameW x frameH
// frame on a screenW x screenH screen) is followed by nothing: no LZW code
// size, no data, no trailer.
func GIFDescriptorOnly(screenW, screenH, frameW, frameH int) []byte {
	return GIFFrameBeyondScreen(screenW, screenH, frameW, frameH)[:13+6+10]
}
