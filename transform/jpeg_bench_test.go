package transform

import (
	"bytes"
	"fmt"
	"image/png"
	"testing"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/bookcovers/image-worker/cover"
)

// BenchmarkJPEGBytesAtWebPSSIM measures what the README's JPEG table
// reports: for covers in testdata at 320 and 640 px wide, the SSIM (ssim,
// lowest channel) and bytes of the WebP at the default WEBP_QUALITY, the
// bytes of the JPEG at the default JPEG_QUALITY, and the lowest JPEG
// quality whose SSIM reaches the WebP's, with its bytes. Every encoding is
// of one reference (the thumbnail, normalised and flattened onto white as
// a JPEG is, held as a lossless PNG), with the service's encoder settings.
//
//	go test -run '^$' -bench JPEGBytesAtWebPSSIM -benchtime 1x ./transform/
func BenchmarkJPEGBytesAtWebPSSIM(b *testing.B) {
	cfg := DefaultConfig()
	for _, name := range []string{"photo-1600x2400-baseline.jpg", "photo-1200x1800-exif-gps-xmp-iptc.jpg", "cover-1200x1800-lossy.webp", "cover-800x1200-alpha.png"} {
		for _, w := range []int{320, 640} {
			b.Run(fmt.Sprintf("%s/%d", name, w), func(b *testing.B) {
				ref := referencePNG(b, testdata(b, name), w)
				refImg, err := png.Decode(bytes.NewReader(ref))
				if err != nil {
					b.Fatalf("decode reference: %v", err)
				}
				measure := func(c Config, f cover.Format) (int, float64) {
					img, err := vips.NewImageFromBuffer(ref)
					if err != nil {
						b.Fatalf("load reference: %v", err)
					}
					defer img.Close()
					buf, err := engine{cfg: c}.encode(img, f)
					if err != nil {
						b.Fatalf("encode %s: %v", f, err)
					}
					return len(buf), ssim(b, refImg, decodeOutput(b, buf).pixels)
				}
				var webpBytes, jpegBytes, eqBytes, eqQ int
				var webpSSIM, jpegSSIM float64
				for range b.N {
					webpBytes, webpSSIM = measure(cfg, cover.WebP)
					jpegBytes, jpegSSIM = measure(cfg, cover.JPEG)
					eqBytes, eqQ = 0, 0
					for q := 50; q <= 100; q += 2 {
						c := cfg
						c.JPEGQuality = q
						if n, s := measure(c, cover.JPEG); s >= webpSSIM {
							eqBytes, eqQ = n, q
							break
						}
					}
				}
				b.ReportMetric(float64(webpBytes), "webp_bytes")
				b.ReportMetric(webpSSIM, "webp_ssim")
				b.ReportMetric(float64(jpegBytes), "jpeg_bytes")
				b.ReportMetric(jpegSSIM, "jpeg_ssim")
				b.ReportMetric(float64(eqQ), "jpeg_q_at_webp_ssim")
				b.ReportMetric(float64(eqBytes), "jpeg_bytes_at_webp_ssim")
			})
		}
	}
}

// referencePNG is src's thumbnail width pixels wide, normalised and
// flattened onto white, as a lossless PNG.
func referencePNG(tb testing.TB, src []byte, width int) []byte {
	tb.Helper()
	info, err := Probe(src, DefaultConfig().MaxPixels)
	if err != nil {
		tb.Fatalf("probe: %v", err)
	}
	img, err := loadThumbnail(info.Type, src, width, vipsMaxCoord, vips.InterestingNone, vips.SizeDown)
	if err != nil {
		tb.Fatalf("thumbnail: %v", err)
	}
	defer img.Close()
	if err := toOpaqueSRGB(img); err != nil {
		tb.Fatalf("normalise: %v", err)
	}
	p := vips.NewPngExportParams()
	p.StripMetadata = true
	buf, _, err := img.ExportPng(p)
	if err != nil {
		tb.Fatalf("reference png: %v", err)
	}
	return buf
}
