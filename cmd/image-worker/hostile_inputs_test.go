package main

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/bookcovers/image-worker/internal/hostile"
)

// Builders of hostile and unusual originals for the hostile-file tests
// (internal/hostile has the bombs the soak shares): everything is generated
// in code, nothing large is committed.

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
	simple := webpOf(t, hostile.Noise(16, 16))
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
