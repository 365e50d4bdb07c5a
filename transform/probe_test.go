package transform

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// pngHeader is a PNG signature, an IHDR declaring w x h and an empty IDAT.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.Write(pngMagic)
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		b.Write([]byte{0, 0, 0, 0}) // CRC is not checked by Probe
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c})
	return b.Bytes()
}

// gifHeader is a GIF89a declaring w x h with one 1x1 frame.
func gifHeader(w, h uint16) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	b = append(b, 0, 0, 0)                         // no global colour table
	b = append(b, 0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0) // image descriptor 1x1
	b = append(b, 2, 2, 0x4C, 0x01, 0, 0x3B)       // LZW size, one sub-block, terminator, trailer
	return b
}

// jpegHeader is SOI, an APP0 and a baseline SOF0 declaring w x h.
func jpegHeader(w, h uint16) []byte {
	b := []byte{0xFF, 0xD8}
	b = append(b, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0)
	b = append(b, 0xFF, 0xC0, 0, 11, 8)
	b = binary.BigEndian.AppendUint16(b, h)
	b = binary.BigEndian.AppendUint16(b, w)
	b = append(b, 1, 1, 0x11, 0)
	return append(b, 0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 0x3F, 0)
}

// webpVP8X is a RIFF/WEBP with a VP8X chunk declaring w x h.
func webpVP8X(w, h uint32) []byte {
	p := make([]byte, 10)
	p[4], p[5], p[6] = byte(w-1), byte((w-1)>>8), byte((w-1)>>16)
	p[7], p[8], p[9] = byte(h-1), byte((h-1)>>8), byte((h-1)>>16)
	b := []byte("RIFF\x00\x00\x00\x00WEBPVP8X")
	b = binary.LittleEndian.AppendUint32(b, 10)
	return append(b, p...)
}

// tiffHeader builds a little-endian TIFF with IFD0 holding width, height
// and orientation, and a second (empty) IFD as page two.
func tiffHeaderBytes(w, h uint32, orientation uint16) []byte {
	b := []byte("II*\x00")
	b = binary.LittleEndian.AppendUint32(b, 8)
	b = binary.LittleEndian.AppendUint16(b, 3)
	entry := func(tag, typ uint16, v uint32) {
		b = binary.LittleEndian.AppendUint16(b, tag)
		b = binary.LittleEndian.AppendUint16(b, typ)
		b = binary.LittleEndian.AppendUint32(b, 1)
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	entry(tagImageWidth, 4, w)
	entry(tagImageLength, 4, h)
	entry(tagOrientation, 3, uint32(orientation))
	next := uint32(len(b) + 4)
	b = binary.LittleEndian.AppendUint32(b, next)
	b = binary.LittleEndian.AppendUint16(b, 0) // IFD1: no entries
	return binary.LittleEndian.AppendUint32(b, 0)
}

func TestProbe(t *testing.T) {
	t.Parallel()
	baseline := testdata(t, "photo-1600x2400-baseline.jpg")
	const limit = 50_000_000
	tests := []struct {
		name      string
		data      []byte
		maxPixels int64 // 0: the 50 MP default; -1: no limit
		want      Info
		wantErr   error
	}{
		{name: "baseline jpeg", data: baseline,
			want: Info{Type: TypeJPEG, ContentType: "image/jpeg", Width: 1600, Height: 2400, Frames: 1, Orientation: 1}},
		{name: "jpeg header only (first 4 KiB)", data: baseline[:4096],
			want: Info{Type: TypeJPEG, ContentType: "image/jpeg", Width: 1600, Height: 2400, Frames: 1, Orientation: 1}},
		{name: "jpeg exif orientation 6", data: testdata(t, "photo-exif-orientation-6.jpg"),
			want: Info{Type: TypeJPEG, ContentType: "image/jpeg", Width: 1800, Height: 1200, Frames: 1, Orientation: 6}},
		{name: "jpeg exif orientation 8", data: testdata(t, "exif-orientation-8.jpg"),
			want: Info{Type: TypeJPEG, ContentType: "image/jpeg", Width: 360, Height: 240, Frames: 1, Orientation: 8}},
		{name: "cmyk jpeg", data: testdata(t, "photo-1600x2400-cmyk-noprofile.jpg"),
			want: Info{Type: TypeJPEG, ContentType: "image/jpeg", Width: 1600, Height: 2400, Frames: 1, Orientation: 1}},
		{name: "adobe rgb jpeg", data: testdata(t, "photo-1600x2400-adobergb-icc.jpg"),
			want: Info{Type: TypeJPEG, ContentType: "image/jpeg", Width: 1600, Height: 2400, Frames: 1, Orientation: 1}},
		{name: "tiny jpeg", data: testdata(t, "cover-50x75-tiny.jpg"),
			want: Info{Type: TypeJPEG, ContentType: "image/jpeg", Width: 50, Height: 75, Frames: 1, Orientation: 1}},
		{name: "panorama jpeg", data: testdata(t, "panorama-4272x356.jpg"),
			want: Info{Type: TypeJPEG, ContentType: "image/jpeg", Width: 4272, Height: 356, Frames: 1, Orientation: 1}},
		{name: "alpha png", data: testdata(t, "cover-800x1200-alpha.png"),
			want: Info{Type: TypePNG, ContentType: "image/png", Width: 800, Height: 1200, Frames: 1, Orientation: 1}},
		{name: "animated gif", data: testdata(t, "cover-240x360-animated-6frames.gif"),
			want: Info{Type: TypeGIF, ContentType: "image/gif", Width: 240, Height: 360, Frames: 6, Orientation: 1}},
		{name: "avif", data: testdata(t, "cover-1200x1800.avif"),
			want: Info{Type: TypeAVIF, ContentType: "image/avif", Width: 1200, Height: 1800, Frames: 1, Orientation: 1}},
		{name: "tiff built in code, two pages", data: tiffHeaderBytes(800, 1200, 6),
			want: Info{Type: TypeTIFF, ContentType: "image/tiff", Width: 800, Height: 1200, Frames: 2, Orientation: 6}},
		{name: "webp vp8x built in code", data: webpVP8X(640, 960),
			want: Info{Type: TypeWebP, ContentType: "image/webp", Width: 640, Height: 960, Frames: 1, Orientation: 1}},
		{name: "small png header", data: pngHeader(3, 2),
			want: Info{Type: TypePNG, ContentType: "image/png", Width: 3, Height: 2, Frames: 1, Orientation: 1}},
		{name: "small gif header", data: gifHeader(3, 2),
			want: Info{Type: TypeGIF, ContentType: "image/gif", Width: 3, Height: 2, Frames: 1, Orientation: 1}},

		{name: "empty", data: nil, wantErr: ErrNotAnImage},
		{name: "one byte", data: []byte{0xFF}, wantErr: ErrNotAnImage},
		{name: "ten random bytes", data: []byte{0x3a, 0x91, 0x07, 0xee, 0x42, 0x00, 0x5c, 0xd3, 0x18, 0x7f}, wantErr: ErrNotAnImage},
		{name: "jpeg SOI only", data: []byte{0xFF, 0xD8, 0xFF}, wantErr: ErrNotAnImage},
		{name: "truncated jpeg header", data: baseline[:20], wantErr: ErrNotAnImage},
		{name: "jpeg cut inside SOF", data: jpegHeader(100, 100)[:24], wantErr: ErrNotAnImage},
		{name: "jpeg scan before frame header", data: []byte{0xFF, 0xD8, 0xFF, 0xDA, 0, 2}, wantErr: ErrNotAnImage},
		{name: "png signature only", data: pngMagic, wantErr: ErrNotAnImage},
		{name: "gif screen only, no frame", data: gifHeader(3, 2)[:13], wantErr: ErrNotAnImage},
		{name: "riff but not webp chunk", data: []byte("RIFF\x00\x00\x00\x00WEBPJUNK\x00\x00\x00\x00"), wantErr: ErrNotAnImage},
		{name: "mp4 video ftyp", data: []byte("\x00\x00\x00\x14ftypisom\x00\x00\x02\x00isom"), wantErr: ErrNotAnImage},
		{name: "avif ftyp without meta", data: testdata(t, "cover-1200x1800.avif")[:32], wantErr: ErrNotAnImage},
		{name: "html", data: []byte("<!DOCTYPE html><html><body><svg></svg></body></html>"), wantErr: ErrNotAnImage},
		{name: "pdf", data: []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"), wantErr: ErrNotAnImage},
		{name: "plain text", data: []byte("hello, this is not an image\n"), wantErr: ErrNotAnImage},
		{name: "json", data: []byte(`{"width": 100, "height": 100}`), wantErr: ErrNotAnImage},
		{name: "zero width png", data: pngHeader(0, 100), wantErr: ErrNotAnImage},
		{name: "svg", data: []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="400" height="600"></svg>`), wantErr: ErrUnsupportedType},
		{name: "svg with xml declaration and BOM", data: []byte("\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<!-- c -->\n<svg width=\"1\"/>"), wantErr: ErrUnsupportedType},

		{name: "png bomb 30000x30000", data: pngHeader(30000, 30000), wantErr: ErrTooManyPixels},
		{name: "gif bomb 30000x30000", data: gifHeader(30000, 30000), wantErr: ErrTooManyPixels},
		{name: "jpeg bomb 30000x30000", data: jpegHeader(30000, 30000), wantErr: ErrTooManyPixels},
		{name: "webp bomb 30000x30000", data: webpVP8X(30000, 30000), wantErr: ErrTooManyPixels},
		{name: "tiff bomb 30000x30000", data: tiffHeaderBytes(30000, 30000, 1), wantErr: ErrTooManyPixels},
		{name: "png side over MaxSide without pixel limit", data: pngHeader(MaxSide+1, 1), maxPixels: -1, wantErr: ErrTooManyPixels},
		{name: "png 4G side", data: pngHeader(0xFFFFFFFF, 0xFFFFFFFF), maxPixels: -1, wantErr: ErrTooManyPixels},
		{name: "baseline over a small limit", data: baseline, maxPixels: 1600*2400 - 1, wantErr: ErrTooManyPixels},
		{name: "baseline at exactly the limit", data: baseline, maxPixels: 1600 * 2400,
			want: Info{Type: TypeJPEG, ContentType: "image/jpeg", Width: 1600, Height: 2400, Frames: 1, Orientation: 1}},
		{name: "30000x30000 png with no limit", data: pngHeader(30000, 30000), maxPixels: -1,
			want: Info{Type: TypePNG, ContentType: "image/png", Width: 30000, Height: 30000, Frames: 1, Orientation: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			maxPixels := tc.maxPixels
			if maxPixels == 0 {
				maxPixels = limit
			}
			got, err := Probe(tc.data, maxPixels)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Probe(%d bytes, %d) = %+v, %v; want error %v", len(tc.data), maxPixels, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Probe(%d bytes, %d) = %+v, %v; want %+v", len(tc.data), maxPixels, got, err, tc.want)
			}
		})
	}
}

func TestProbeCorpus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file   string
		typ    SourceType
		w, h   int
		frames int
	}{
		{"cover-1200x1800-lossy.webp", TypeWebP, 1200, 1800, 1},
		{"cover-800x1200-alpha.webp", TypeWebP, 800, 1200, 1},
		{"cover-240x360-animated-4frames.webp", TypeWebP, 240, 360, 4},
		{"cover-1200x1800.heic", TypeHEIF, 1200, 1800, 1},
		{"cover-800x1200.tiff", TypeTIFF, 800, 1200, 1},
		{"cover-1000x1500-16bit.png", TypePNG, 1000, 1500, 1},
		{"cover-400x600-static.gif", TypeGIF, 400, 600, 1},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			got, err := Probe(corpus(t, tc.file), 50_000_000)
			if err != nil || got.Type != tc.typ || got.Width != tc.w || got.Height != tc.h || got.Frames != tc.frames {
				t.Fatalf("Probe(%s) = %+v, %v; want %s %dx%d, %d frames", tc.file, got, err, tc.typ, tc.w, tc.h, tc.frames)
			}
		})
	}
	t.Run("svg file", func(t *testing.T) {
		t.Parallel()
		if _, err := Probe(corpus(t, "cover-400x600.svg"), 0); !errors.Is(err, ErrUnsupportedType) {
			t.Fatalf("Probe(svg) error = %v; want ErrUnsupportedType", err)
		}
	})
}

func TestInfoDisplaySize(t *testing.T) {
	t.Parallel()
	for o := 1; o <= 8; o++ {
		w, h := Info{Width: 360, Height: 240, Orientation: o}.DisplaySize()
		wantW, wantH := 360, 240
		if o >= 5 {
			wantW, wantH = 240, 360
		}
		if w != wantW || h != wantH {
			t.Errorf("Info{360x240, orientation %d}.DisplaySize() = %dx%d; want %dx%d", o, w, h, wantW, wantH)
		}
	}
}

// FuzzProbe checks properties that hold for any input: no panic, either a
// sentinel error or an Info within the limits.
func FuzzProbe(f *testing.F) {
	for _, name := range []string{"photo-1600x2400-baseline.jpg", "photo-exif-orientation-6.jpg", "cover-800x1200-alpha.png",
		"cover-240x360-animated-6frames.gif", "cover-1200x1800.avif"} {
		b := testdata(f, name)
		f.Add(b[:min(len(b), 2048)])
	}
	for _, b := range [][]byte{pngHeader(30000, 30000), gifHeader(3, 2), jpegHeader(10, 10), webpVP8X(5, 5),
		tiffHeaderBytes(4, 4, 8), []byte("<svg/>"), nil} {
		f.Add(b)
	}
	const limit = 1 << 24
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Probe(data, limit)
		if err != nil {
			if !errors.Is(err, ErrNotAnImage) && !errors.Is(err, ErrUnsupportedType) && !errors.Is(err, ErrTooManyPixels) {
				t.Fatalf("Probe error %v wraps no sentinel", err)
			}
			return
		}
		switch {
		case info.Width < 1 || info.Height < 1 || info.Width > MaxSide || info.Height > MaxSide:
			t.Fatalf("Probe accepted side %dx%d", info.Width, info.Height)
		case int64(info.Width)*int64(info.Height) > limit:
			t.Fatalf("Probe accepted %dx%d over %d pixels", info.Width, info.Height, limit)
		case info.ContentType == "" || contentTypes[info.Type] != info.ContentType:
			t.Fatalf("Probe type %q content type %q", info.Type, info.ContentType)
		case info.Frames < 1 || info.Frames > maxFrames:
			t.Fatalf("Probe frames %d", info.Frames)
		case info.Orientation < 1 || info.Orientation > 8:
			t.Fatalf("Probe orientation %d", info.Orientation)
		}
	})
}
