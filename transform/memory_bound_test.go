package transform

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"hash/crc32"
	"io"
	"testing"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/internal/hostile"
)

// WorkerMemoryBound is the documented ceiling of one render worker's
// resident set during any single operation with the default limits: the
// worker's baseline (Go runtime and libvips, about 40 MB) plus twice the
// decode budget (DecodedBytesPerPixel * MaxPixels = 200 MB at 50 MP). A
// serving process runs MaxConcurrent such workers at most.
func workerMemoryBound(cfg Config) int64 {
	return 64<<20 + 2*DecodedBytesPerPixel*cfg.MaxPixels
}

// TestRenderMemoryIsBounded feeds every hostile class and the largest legal
// originals of the formats that make libvips hold a whole image (an
// interlaced 16-bit RGBA PNG, a progressive JPEG, a GIF frame, a lossless
// WebP, each right at the decode budget) through the ingest check and a
// render, and asserts that no worker's peak RSS during one operation went
// over workerMemoryBound.
func TestRenderMemoryIsBounded(t *testing.T) {
	r := newTestRenderer(t, func(c *Config) { c.MaxConcurrent = 1 })
	bound := workerMemoryBound(r.cfg)
	ctx := context.Background()
	classes := hostileFiles(t)
	for _, c := range classes {
		_, _ = r.Check(ctx, c.Data)
		_, _ = r.Render(ctx, c.Data, Request{Width: 320, Format: cover.WebP})
	}
	if peak := r.PeakWorkerRSS(); peak == 0 || peak > bound {
		t.Fatalf("after %d hostile classes, worker peak RSS = %d MB; want between 1 byte and %d MB", len(classes), peak>>20, bound>>20)
	}
	t.Logf("hostile classes: worker peak RSS %d MB", r.PeakWorkerRSS()>>20)

	legal := []struct {
		name string
		data []byte
	}{
		{"16-bit RGBA interlaced png 5000x5000", zeroPNG(t, 5000, 5000, 16, 6, true)},
		{"progressive RGB jpeg 5700x5700", progressiveJPEG(t, 5700, 5700)},
		{"gif frame 7000x7000", hostile.GIFWithFrames(7000, 7000, hostile.GIFFrame{W: 7000, H: 7000})},
		{"lossless webp 7000x7000", hostile.WebPLossless(7000, 7000)},
	}
	for _, c := range legal {
		t.Run(c.name, func(t *testing.T) {
			info, err := Probe(c.data, r.cfg.MaxPixels)
			if err != nil {
				t.Fatalf("Probe: %v; want the file within the limits", err)
			}
			if decoded := int64(info.Width) * int64(info.Height) * int64(info.BytesPerPixel); decoded < DecodedBytesPerPixel*r.cfg.MaxPixels*9/10 {
				t.Fatalf("decodes to %d MB; want within 10%% of the budget", decoded>>20)
			}
			r := newTestRenderer(t, func(c *Config) { c.MaxConcurrent = 1 })
			_, checkErr := r.Check(ctx, c.data)
			_, renderErr := r.Render(ctx, c.data, Request{Width: 320, Format: cover.WebP})
			peak := r.PeakWorkerRSS()
			t.Logf("check: %v; render: %v; worker peak RSS %d MB (bound %d MB)", checkErr, renderErr, peak>>20, bound>>20)
			if peak == 0 || peak > bound {
				t.Fatalf("worker peak RSS = %d MB; want at most %d MB", peak>>20, bound>>20)
			}
		})
	}
}

// zeroPNG is a w x h PNG of all-zero pixels, Adam7-interlaced or not, of a
// few hundred KB however large: what libvips loads whole when interlaced.
func zeroPNG(tb testing.TB, w, h int, depth, colour byte, interlace bool) []byte {
	tb.Helper()
	var b bytes.Buffer
	b.Write(pngMagic)
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = depth, colour
	if interlace {
		ihdr[12] = 1
	}
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	chunk("IHDR", ihdr)
	bpp := pngBytesPerPixel(colour, depth)
	var raw int64
	passes := [][4]int{{0, 0, 1, 1}}
	if interlace {
		passes = [][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}
	}
	for _, p := range passes {
		cols, rows := (w-p[0]+p[2]-1)/p[2], (h-p[1]+p[3]-1)/p[3]
		if cols > 0 && rows > 0 {
			raw += int64(rows) * int64(1+cols*bpp)
		}
	}
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	if _, err := io.CopyN(zw, zeros{}, raw); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return b.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// progressiveJPEG encodes a w x h black RGB image as a progressive JPEG
// with libvips in this (test) process.
func progressiveJPEG(tb testing.TB, w, h int) []byte {
	tb.Helper()
	img, err := vips.Black(w, h)
	if err != nil {
		tb.Fatal(err)
	}
	defer img.Close()
	if err := img.ToColorSpace(vips.InterpretationSRGB); err != nil {
		tb.Fatal(err)
	}
	p := vips.NewJpegExportParams()
	p.Interlace = true
	p.SubsampleMode = vips.VipsForeignSubsampleOff
	buf, _, err := img.ExportJpeg(p)
	if err != nil {
		tb.Fatal(err)
	}
	return buf
}
