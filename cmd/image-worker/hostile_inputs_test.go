package main

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/davidbyttow/govips/v2/vips"
)

// Builders of hostile and unusual originals for the hostile-file tests and
// the soak: everything is generated in code, nothing large is committed.

// pngBomb is a complete 1-bit greyscale PNG of w x h zero pixels: a few
// hundred KB that would inflate to w*h/8 bytes and decode to w*h pixels. The
// deflate stream is one compressed MiB of zeros repeated (each piece ends on
// a sync flush and references nothing before it), so no test compresses
// hundreds of MB.
func pngBomb(w, h int) []byte {
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
	b := []byte("\x89PNG\r\n\x1a\n")
	b = pngChunk(b, "IHDR", ihdr)
	b = pngChunk(b, "IDAT", z.Bytes())
	return pngChunk(b, "IEND", nil)
}

func pngChunk(b []byte, typ string, data []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	start := len(b)
	b = append(append(b, typ...), data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
}

// jpegDeclaring is a real small JPEG whose SOF0 header is patched to w x h.
func jpegDeclaring(w, h int) []byte {
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, noise(16, 16), &jpeg.Options{Quality: 80})
	b := buf.Bytes()
	i := bytes.Index(b, []byte{0xFF, 0xC0})
	binary.BigEndian.PutUint16(b[i+5:], uint16(h))
	binary.BigEndian.PutUint16(b[i+7:], uint16(w))
	return b
}

// gifScreen is a complete GIF with one 1x1 frame on a w x h logical screen.
func gifScreen(w, h int) []byte {
	var buf bytes.Buffer
	_ = gif.Encode(&buf, solid(1, 1, color.RGBA{255, 0, 0, 255}), nil)
	b := buf.Bytes()
	binary.LittleEndian.PutUint16(b[6:], uint16(w))
	binary.LittleEndian.PutUint16(b[8:], uint16(h))
	return b
}

// webpOf encodes img as a (simple, lossy) WebP with libvips.
func webpOf(t *testing.T, img image.Image) []byte {
	t.Helper()
	ref, err := vips.NewImageFromBuffer(encodePNG(t, img))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	b, _, err := ref.ExportWebp(vips.NewWebpExportParams())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// webpVP8X wraps the VP8 chunk of a real 16x16 WebP in an extended file
// whose VP8X canvas declares w x h.
func webpVP8X(t *testing.T, w, h int) []byte {
	t.Helper()
	simple := webpOf(t, noise(16, 16))
	vp8 := simple[12:] // the "VP8 " chunk
	x := []byte("VP8X")
	x = binary.LittleEndian.AppendUint32(x, 10)
	x = append(x, 0, 0, 0, 0)
	x = append(x, byte(w-1), byte((w-1)>>8), byte((w-1)>>16), byte(h-1), byte((h-1)>>8), byte((h-1)>>16))
	body := append(append([]byte("WEBP"), x...), vp8...)
	return append(binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(len(body))), body...)
}

// garble overwrites 64 bytes in the middle of b with a fixed pattern that
// holds no 0xFF (so no JPEG marker is forged) and keeps the length.
func garble(b []byte) []byte {
	out := bytes.Clone(b)
	mid := len(out) / 2
	for i := range 64 {
		out[mid+i] = byte(0x11 + i*37%0xE0)
	}
	return out
}

// jpegWithComment inserts a COM segment holding s right after SOI.
func jpegWithComment(jpg []byte, s string) []byte {
	seg := append([]byte{0xFF, 0xFE}, byte((len(s)+2)>>8), byte(len(s)+2))
	seg = append(seg, s...)
	return append(append(bytes.Clone(jpg[:2]), seg...), jpg[2:]...)
}

func zipOf(t *testing.T, name, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	f, err := zw.Create(name)
	if err == nil {
		_, err = f.Write([]byte(content))
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gifWithComment inserts a comment extension holding s before the trailer.
func gifWithComment(t *testing.T, img image.Image, s string) []byte {
	b := encodeGIF(t, img)
	ext := append([]byte{0x21, 0xFE, byte(len(s))}, s...)
	ext = append(ext, 0)
	return append(append(bytes.Clone(b[:len(b)-1]), ext...), 0x3B)
}

// manyFrameGIF is a w x h red first frame followed by n-1 one-pixel blue frames.
func manyFrameGIF(t *testing.T, w, h, n int) []byte {
	t.Helper()
	pal := color.Palette{color.RGBA{220, 20, 20, 255}, color.RGBA{20, 20, 220, 255}}
	g := &gif.GIF{Config: image.Config{ColorModel: pal, Width: w, Height: h}}
	g.Image = append(g.Image, image.NewPaletted(image.Rect(0, 0, w, h), pal))
	g.Delay = append(g.Delay, 1)
	for i := 1; i < n; i++ {
		f := image.NewPaletted(image.Rect(i%w, 0, i%w+1, 1), pal)
		f.Pix[0] = 1
		g.Image = append(g.Image, f)
		g.Delay = append(g.Delay, 1)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, g); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeJPEG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeGIF(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := gif.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func solid(w, h int, c color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

// noise is a deterministic pattern that compresses badly.
func noise(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	x := uint32(2463534242)
	for i := range img.Pix {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		img.Pix[i] = byte(x)
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	return img
}

// orange16 is a 16-bit RGB image whose 8-bit value is about (230, 130, 20).
func orange16(w, h int) *image.RGBA64 {
	img := image.NewRGBA64(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA64(x, y, color.RGBA64{230*257 + uint16(x), 130*257 + uint16(y), 20 * 257, 0xFFFF})
		}
	}
	return img
}

// paletted is a 4-colour palette image of red and dark-red stripes.
func paletted(w, h int) *image.Paletted {
	pal := color.Palette{color.RGBA{230, 20, 20, 255}, color.RGBA{200, 10, 10, 255}, color.RGBA{0, 0, 0, 255}, color.RGBA{255, 255, 255, 255}}
	img := image.NewPaletted(image.Rect(0, 0, w, h), pal)
	for y := range h {
		for x := range w {
			img.SetColorIndex(x, y, uint8(y/4%2))
		}
	}
	return img
}
