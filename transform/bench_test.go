package transform

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"math"
	"runtime"
	"testing"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/bookcovers/image-worker/cover"
)

func BenchmarkProbe(b *testing.B) {
	for _, name := range []string{"photo-1600x2400-baseline.jpg", "photo-exif-orientation-6.jpg", "cover-800x1200-alpha.png",
		"cover-240x360-animated-6frames.gif", "cover-1200x1800.avif"} {
		src := testdata(b, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Probe(src, 50_000_000); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRender measures the whole render (thumbnail, colour, encode) at
// the default settings; out-bytes is the encoded size.
func BenchmarkRender(b *testing.B) {
	r := newTestRenderer(b, nil)
	sources := []struct {
		name string
		load func(testing.TB) []byte
	}{
		{"1600x2400", func(tb testing.TB) []byte { return testdata(tb, "photo-1600x2400-baseline.jpg") }},
		{"4000x6000", jpeg4000x6000},
	}
	for _, s := range sources {
		for _, f := range formats {
			for _, w := range []int{320, 640, 1280} {
				b.Run(fmt.Sprintf("%s/%s/%d", s.name, f, w), func(b *testing.B) {
					src := s.load(b)
					benchRender(b, r, src, Request{Width: w, Format: f})
				})
			}
		}
	}
}

// BenchmarkAVIFEffort compares libvips AVIF effort levels at 320 and 640
// wide from the 1600x2400 photo, at the default quality.
func BenchmarkAVIFEffort(b *testing.B) {
	src := testdata(b, "photo-1600x2400-baseline.jpg")
	refs := map[int]image.Image{}
	for _, w := range []int{320, 640} {
		refs[w] = losslessReference(b, src, w)
	}
	for _, effort := range []int{1, 2, 3, 4} {
		r := newTestRenderer(b, func(c *Config) { c.AVIFEffort = effort })
		for _, w := range []int{320, 640} {
			b.Run(fmt.Sprintf("effort=%d/%d", effort, w), func(b *testing.B) {
				res := benchRender(b, r, src, Request{Width: w, Format: cover.AVIF})
				b.ReportMetric(psnr(b, refs[w], decodeOutput(b, res.Bytes).pixels), "psnr-dB")
			})
		}
	}
}

// BenchmarkQuality reports size and PSNR against a lossless render of the
// same size, to pick an AVIF quality that matches WebP at quality 80.
func BenchmarkQuality(b *testing.B) {
	src := testdata(b, "photo-1600x2400-baseline.jpg")
	const w = 640
	ref := losslessReference(b, src, w)
	cases := []struct {
		name string
		f    cover.Format
		mut  func(*Config)
	}{
		{"webp/q=80", cover.WebP, func(c *Config) { c.WebPQuality = 80 }},
	}
	for _, q := range []int{45, 50, 55, 60, 65} {
		cases = append(cases, struct {
			name string
			f    cover.Format
			mut  func(*Config)
		}{fmt.Sprintf("avif/q=%d", q), cover.AVIF, func(c *Config) { c.AVIFQuality = q }})
	}
	for _, tc := range cases {
		r := newTestRenderer(b, tc.mut)
		b.Run(tc.name, func(b *testing.B) {
			res := benchRender(b, r, src, Request{Width: w, Format: tc.f})
			b.ReportMetric(psnr(b, ref, decodeOutput(b, res.Bytes).pixels), "psnr-dB")
		})
	}
}

// BenchmarkShrinkOnLoad compares vips_thumbnail_buffer (which lets the JPEG
// decoder downscale by 2/4/8 while decoding) with a full decode followed by
// vips_thumbnail_image (no shrink-on-load), to 320 wide.
func BenchmarkShrinkOnLoad(b *testing.B) {
	sources := []struct {
		name string
		load func(testing.TB) []byte
	}{
		{"1600x2400", func(tb testing.TB) []byte { return testdata(tb, "photo-1600x2400-baseline.jpg") }},
		{"4000x6000", jpeg4000x6000},
	}
	for _, s := range sources {
		b.Run(s.name+"/thumbnail-buffer", func(b *testing.B) {
			src := s.load(b)
			b.ReportAllocs()
			for b.Loop() {
				img, err := vips.LoadThumbnailFromBuffer(src, 320, vipsMaxCoord, vips.InterestingNone, vips.SizeDown, vips.NewImportParams())
				if err != nil {
					b.Fatal(err)
				}
				if _, err := img.ToBytes(); err != nil { // force the pixels
					b.Fatal(err)
				}
				img.Close()
			}
		})
		b.Run(s.name+"/full-decode-resize", func(b *testing.B) {
			src := s.load(b)
			b.ReportAllocs()
			for b.Loop() {
				img, err := vips.LoadImageFromBuffer(src, vips.NewImportParams())
				if err != nil {
					b.Fatal(err)
				}
				if err := img.Resize(320/float64(img.Width()), vips.KernelAuto); err != nil {
					b.Fatal(err)
				}
				if _, err := img.ToBytes(); err != nil {
					b.Fatal(err)
				}
				img.Close()
			}
		})
		b.Run(s.name+"/jpeg-shrink-then-thumbnail", func(b *testing.B) {
			src := s.load(b)
			info, err := Probe(src, 0)
			if err != nil {
				b.Fatal(err)
			}
			shrink := 1
			for _, f := range []int{8, 4, 2} {
				if info.Width/f >= 320 {
					shrink = f
					break
				}
			}
			p := vips.NewImportParams()
			p.JpegShrinkFactor.Set(shrink)
			b.ReportAllocs()
			for b.Loop() {
				img, err := vips.LoadImageFromBuffer(src, p)
				if err != nil {
					b.Fatal(err)
				}
				if err := img.Thumbnail(320, vipsMaxCoord, vips.InterestingNone); err != nil {
					b.Fatal(err)
				}
				if _, err := img.ToBytes(); err != nil {
					b.Fatal(err)
				}
				img.Close()
			}
		})
	}
}

// BenchmarkRenderParallel keeps MaxConcurrent renders busy, to compare
// libvips thread counts (run with TRANSFORM_VIPS_CONCURRENCY=1, 2, ...).
func BenchmarkRenderParallel(b *testing.B) {
	r := newTestRenderer(b, func(c *Config) { c.QueueSize = 1024 })
	src := testdata(b, "photo-1600x2400-baseline.jpg")
	for _, f := range formats {
		b.Run(fmt.Sprintf("%s/640/procs=%d", f, runtime.GOMAXPROCS(0)), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := r.Render(context.Background(), src, Request{Width: 640, Format: f}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func benchRender(b *testing.B, r *Renderer, src []byte, req Request) Result {
	b.Helper()
	b.ReportAllocs()
	var res Result
	for b.Loop() {
		var err error
		res, err = r.Render(context.Background(), src, req)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(res.Bytes)), "out-bytes")
	return res
}

// losslessReference renders src at width w through the same thumbnail and
// colour path, encoded as PNG.
func losslessReference(tb testing.TB, src []byte, w int) image.Image {
	tb.Helper()
	img, err := vips.LoadThumbnailFromBuffer(src, w, vipsMaxCoord, vips.InterestingNone, vips.SizeDown, vips.NewImportParams())
	if err != nil {
		tb.Fatal(err)
	}
	defer img.Close()
	if err := normalise(img); err != nil {
		tb.Fatal(err)
	}
	buf, _, err := img.ExportPng(vips.NewPngExportParams())
	if err != nil {
		tb.Fatal(err)
	}
	ref, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		tb.Fatal(err)
	}
	return ref
}

// psnr is the peak signal-to-noise ratio over RGB, in dB.
func psnr(tb testing.TB, a, b image.Image) float64 {
	tb.Helper()
	if a.Bounds().Size() != b.Bounds().Size() {
		tb.Fatalf("psnr: sizes %v and %v differ", a.Bounds().Size(), b.Bounds().Size())
	}
	var se float64
	n := 0
	ab, bb := a.Bounds(), b.Bounds()
	for y := 0; y < ab.Dy(); y++ {
		for x := 0; x < ab.Dx(); x++ {
			r1, g1, b1, _ := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			r2, g2, b2, _ := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			for _, d := range []float64{float64(r1>>8) - float64(r2>>8), float64(g1>>8) - float64(g2>>8), float64(b1>>8) - float64(b2>>8)} {
				se += d * d
			}
			n += 3
		}
	}
	mse := se / float64(n)
	if mse == 0 {
		return 99
	}
	return 10 * math.Log10(255*255/mse)
}
