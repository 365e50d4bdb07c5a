package transform

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/bookcovers/image-worker/cover"
)

// testdata reads a file from the repository's testdata directory.
func testdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		tb.Fatalf("read testdata %s: %v", name, err)
	}
	return b
}

// testConfig is DefaultConfig with render workers that are this test
// binary (TestMain serves as a worker when testWorkerEnv is set).
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.WorkerCommand = []string{os.Args[0]}
	cfg.WorkerEnv = []string{testWorkerEnv + "=1"}
	return cfg
}

// newTestRenderer builds a Renderer with a discard logger, failing the test
// on error.
func newTestRenderer(tb testing.TB, mutate func(*Config)) *Renderer {
	tb.Helper()
	cfg := testConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	r, err := NewRenderer(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatalf("NewRenderer(%+v): %v", cfg, err)
	}
	tb.Cleanup(func() { _ = r.Close() })
	return r
}

// render calls r.Render and fails the test on error.
func render(tb testing.TB, r *Renderer, src []byte, req Request) Result {
	tb.Helper()
	res, err := r.Render(context.Background(), src, req)
	if err != nil {
		tb.Fatalf("Render(%+v): %v", req, err)
	}
	return res
}

// decoded is what the tests learn by decoding an output with libvips.
type decoded struct {
	format         cover.Format // from the magic bytes
	width, height  int
	bands          int
	interpretation vips.Interpretation
	pages          int
	fields         []string
	pixels         image.Image // 8-bit, via a lossless PNG round trip
}

// decodeOutput checks the magic bytes and decodes buf with libvips.
func decodeOutput(tb testing.TB, buf []byte) decoded {
	tb.Helper()
	var d decoded
	switch {
	case len(buf) >= 12 && string(buf[:4]) == "RIFF" && string(buf[8:12]) == "WEBP":
		d.format = cover.WebP
	case len(buf) >= 12 && string(buf[4:8]) == "ftyp" && bytes.Contains(buf[8:min(len(buf), 64)], []byte("avif")):
		d.format = cover.AVIF
	case len(buf) >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff:
		d.format = cover.JPEG
	default:
		tb.Fatalf("output has no WebP, AVIF or JPEG magic: % x", buf[:min(len(buf), 16)])
	}
	img, err := vips.LoadImageFromBuffer(buf, vips.NewImportParams())
	if err != nil {
		tb.Fatalf("decode %s output (%d bytes): %v", d.format, len(buf), err)
	}
	defer img.Close()
	d.width, d.height, d.bands = img.Width(), img.Height(), img.Bands()
	d.interpretation = img.Interpretation()
	d.pages = img.Pages()
	d.fields = img.GetFields()
	p := vips.NewPngExportParams()
	p.Compression = 1
	pngBuf, _, err := img.ExportPng(p)
	if err != nil {
		tb.Fatalf("re-encode %s output as PNG: %v", d.format, err)
	}
	d.pixels, err = png.Decode(bytes.NewReader(pngBuf))
	if err != nil {
		tb.Fatalf("decode PNG of %s output: %v", d.format, err)
	}
	return d
}

// metadataFields lists decoded header fields that carry EXIF, XMP, IPTC or
// an orientation: none may survive a render.
func (d decoded) metadataFields() []string {
	var out []string
	for _, f := range d.fields {
		if strings.HasPrefix(f, "exif-") || f == "xmp-data" || f == "iptc-data" || f == "orientation" {
			out = append(out, f)
		}
	}
	return out
}

// meanRGB is the average colour of a region given in fractions of the image.
func meanRGB(img image.Image, x0, y0, x1, y1 float64) [3]float64 {
	b := img.Bounds()
	ax, bx := b.Min.X+int(x0*float64(b.Dx())), b.Min.X+int(x1*float64(b.Dx()))
	ay, by := b.Min.Y+int(y0*float64(b.Dy())), b.Min.Y+int(y1*float64(b.Dy()))
	var sum [3]float64
	n := 0.0
	for y := ay; y < by; y++ {
		for x := ax; x < bx; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			sum[0] += float64(r >> 8)
			sum[1] += float64(g >> 8)
			sum[2] += float64(bl >> 8)
			n++
		}
	}
	if n == 0 {
		return sum
	}
	return [3]float64{sum[0] / n, sum[1] / n, sum[2] / n}
}

// luma is Rec. 601 luma of an average colour.
func luma(c [3]float64) float64 { return 0.299*c[0] + 0.587*c[1] + 0.114*c[2] }

// lumaGrid averages luma over cols x rows cells.
func lumaGrid(img image.Image, cols, rows int) [][]float64 {
	g := make([][]float64, rows)
	for r := range rows {
		g[r] = make([]float64, cols)
		for c := range cols {
			g[r][c] = luma(meanRGB(img,
				float64(c)/float64(cols), float64(r)/float64(rows),
				float64(c+1)/float64(cols), float64(r+1)/float64(rows)))
		}
	}
	return g
}

// rotateCW turns a grid 90 degrees clockwise.
func rotateCW(g [][]float64) [][]float64 {
	rows, cols := len(g), len(g[0])
	out := make([][]float64, cols)
	for r := range cols {
		out[r] = make([]float64, rows)
		for c := range rows {
			out[r][c] = g[rows-1-c][r]
		}
	}
	return out
}

// gridDiff is the mean absolute difference of two grids of the same shape.
func gridDiff(a, b [][]float64) float64 {
	sum, n := 0.0, 0.0
	for r := range a {
		for c := range a[r] {
			d := a[r][c] - b[r][c]
			if d < 0 {
				d = -d
			}
			sum += d
			n++
		}
	}
	return sum / n
}
