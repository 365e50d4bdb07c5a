package transform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/davidbyttow/govips/v2/vips"
	"golang.org/x/image/webp"

	"github.com/bookcovers/image-worker/cover"
)

// formats is every output format: each render test runs for each.
var formats = cover.Formats()

// checkOutput decodes res and compares it with the wanted size and format,
// and with what Result claims; it also checks that no metadata survived.
func checkOutput(t *testing.T, res Result, format cover.Format, w, h int) decoded {
	t.Helper()
	d := decodeOutput(t, res.Bytes)
	if d.format != format || d.width != w || d.height != h {
		t.Fatalf("output decodes as %s %dx%d; want %s %dx%d", d.format, d.width, d.height, format, w, h)
	}
	if res.Format != format || res.ContentType != format.ContentType() || res.Width != w || res.Height != h {
		t.Fatalf("Result says %s %q %dx%d; want %s %q %dx%d", res.Format, res.ContentType, res.Width, res.Height,
			format, format.ContentType(), w, h)
	}
	if d.pages != 1 {
		t.Fatalf("output has %d pages; want 1", d.pages)
	}
	if m := d.metadataFields(); len(m) > 0 {
		t.Fatalf("output carries metadata fields %v; want none", m)
	}
	if bytes.Contains(res.Bytes, []byte("Exif")) || bytes.Contains(res.Bytes, []byte("EXIF")) ||
		bytes.Contains(res.Bytes, []byte("<x:xmpmeta")) {
		t.Fatalf("output bytes contain an EXIF or XMP block")
	}
	if format == cover.WebP { // a second, independent decoder
		cfg, err := webp.DecodeConfig(bytes.NewReader(res.Bytes))
		if err != nil || cfg.Width != w || cfg.Height != h {
			t.Fatalf("x/image/webp DecodeConfig = %dx%d, %v; want %dx%d", cfg.Width, cfg.Height, err, w, h)
		}
	}
	return d
}

func TestRenderWidths(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	src := testdata(t, "photo-1600x2400-baseline.jpg")
	for _, f := range formats {
		for _, w := range []int{96, 320, 640, 1280} {
			t.Run(fmt.Sprintf("%s/%d", f, w), func(t *testing.T) {
				t.Parallel()
				res := render(t, r, src, Request{Width: w, Format: f})
				d := checkOutput(t, res, f, w, w*3/2)
				if d.bands != 3 || d.interpretation != vips.InterpretationSRGB {
					t.Fatalf("output has %d bands, interpretation %v; want 3-band sRGB", d.bands, d.interpretation)
				}
			})
		}
	}
}

func TestRenderBox(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	baseline := testdata(t, "photo-1600x2400-baseline.jpg")
	tiny := testdata(t, "cover-50x75-tiny.jpg")
	tests := []struct {
		name       string
		src        []byte
		req        Request
		wantW, wan int
	}{
		{"cover box 320x480", baseline, Request{Width: 320, Height: 480}, 320, 480},
		{"square 200x200", baseline, Request{Width: 200, Height: 200}, 200, 200},
		{"landscape 300x100", baseline, Request{Width: 300, Height: 100}, 300, 100},
		{"square larger than tiny source shrinks to fit", tiny, Request{Width: 200, Height: 200}, 50, 50},
		{"tall box larger than tiny source keeps its aspect", tiny, Request{Width: 100, Height: 300}, 25, 75},
		{"square larger than tiny source with enlarge", tiny, Request{Width: 200, Height: 200, Enlarge: true}, 200, 200},
	}
	for _, f := range formats {
		for _, tc := range tests {
			t.Run(f.ContentType()+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				req := tc.req
				req.Format = f
				checkOutput(t, render(t, r, tc.src, req), f, tc.wantW, tc.wan)
			})
		}
	}
}

func TestRenderSizePolicy(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	tests := []struct {
		name         string
		file         string
		req          Request
		wantW, wantH int
	}{
		{"tiny is not enlarged", "cover-50x75-tiny.jpg", Request{Width: 320}, 50, 75},
		{"tiny enlarged on request", "cover-50x75-tiny.jpg", Request{Width: 320, Enlarge: true}, 320, 480},
		{"panorama keeps at least one pixel of height", "panorama-4272x356.jpg", Request{Width: 96}, 96, 8},
		{"panorama at 16 px", "panorama-4272x356.jpg", Request{Width: 16}, 16, 1},
		{"animated gif gives its first frame", "cover-240x360-animated-6frames.gif", Request{Width: 240}, 240, 360},
		{"animated gif downsized", "cover-240x360-animated-6frames.gif", Request{Width: 120}, 120, 180},
		{"avif original", "cover-1200x1800.avif", Request{Width: 320}, 320, 480},
		{"exif orientation 6 comes out portrait", "photo-exif-orientation-6.jpg", Request{Width: 320}, 320, 480},
		{"exif orientation 8 comes out portrait", "exif-orientation-8.jpg", Request{Width: 240}, 240, 360},
		{"exif orientation 6 in a box", "photo-exif-orientation-6.jpg", Request{Width: 300, Height: 300}, 300, 300},
		{"exif orientation 8 box larger than source", "exif-orientation-8.jpg", Request{Width: 480, Height: 480}, 240, 240},
	}
	for _, f := range formats {
		for _, tc := range tests {
			t.Run(string(f)+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				req := tc.req
				req.Format = f
				checkOutput(t, render(t, r, testdata(t, tc.file), req), f, tc.wantW, tc.wantH)
			})
		}
	}
}

func TestRenderTruncatedJPEG(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	src := testdata(t, "photo-1600x2400-baseline.jpg")
	src = src[:len(src)*6/10]
	for _, f := range formats {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			res, err := r.Render(context.Background(), src, Request{Width: 320, Format: f})
			if !errors.Is(err, ErrRenderFailed) {
				t.Fatalf("Render(first 60%% of a JPEG) = %d bytes, %v; want ErrRenderFailed", len(res.Bytes), err)
			}
		})
	}
}

// Requests refused before libvips: the render counter must not move.
func TestRenderRefusesWithoutDecoding(t *testing.T) {
	t.Parallel()
	baseline := testdata(t, "photo-1600x2400-baseline.jpg")
	tests := []struct {
		name    string
		src     []byte
		req     Request
		wantErr error
	}{
		{"png bomb header", pngHeader(30000, 30000), Request{Width: 320, Format: cover.WebP}, ErrTooManyPixels},
		{"html", []byte("<html><body>hi</body></html>"), Request{Width: 320, Format: cover.WebP}, ErrNotAnImage},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), Request{Width: 320, Format: cover.AVIF}, ErrUnsupportedType},
		{"empty", nil, Request{Width: 320, Format: cover.WebP}, ErrNotAnImage},
		{"jpeg output", baseline, Request{Width: 320, Format: "jpeg"}, cover.ErrUnsupportedFormat},
		{"zero width", baseline, Request{Width: 0, Format: cover.WebP}, ErrInvalidRequest},
		{"negative height", baseline, Request{Width: 10, Height: -1, Format: cover.WebP}, ErrInvalidRequest},
		{"width over MaxSide", baseline, Request{Width: MaxSide + 1, Format: cover.WebP, Enlarge: true}, ErrTooManyPixels},
		{"enlarged output over the pixel budget", baseline, Request{Width: 9000, Format: cover.WebP, Enlarge: true}, ErrTooManyPixels},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newTestRenderer(t, nil)
			_, err := r.Render(context.Background(), tc.src, tc.req)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Render(%s, %+v) error = %v; want %v", tc.name, tc.req, err, tc.wantErr)
			}
			if n := r.Renders(); n != 0 {
				t.Fatalf("Renders() = %d after a refused request; want 0 (no decode)", n)
			}
		})
	}
}

func TestRenderMetrics(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	src := testdata(t, "cover-50x75-tiny.jpg")
	render(t, r, src, Request{Width: 32, Format: cover.WebP})
	render(t, r, src, Request{Width: 32, Format: cover.WebP})
	render(t, r, src, Request{Width: 32, Format: cover.AVIF})
	if _, err := r.Render(context.Background(), src[:len(src)/2], Request{Width: 32, Format: cover.AVIF}); !errors.Is(err, ErrRenderFailed) {
		t.Fatalf("Render(half a JPEG) error = %v; want ErrRenderFailed", err)
	}
	if _, err := r.Placeholder(context.Background(), 3, Request{Width: 32, Format: cover.WebP}); err != nil {
		t.Fatalf("Placeholder: %v", err)
	}
	if n := r.Renders(); n != 4 {
		t.Fatalf("Renders() = %d; want 4 (placeholders not counted)", n)
	}
	if n := r.Placeholders(); n != 1 {
		t.Fatalf("Placeholders() = %d; want 1", n)
	}
	var buf bytes.Buffer
	r.Metrics().WritePrometheus(&buf)
	out := buf.String()
	for _, want := range []string{
		`covers_transform_renders_total{format="webp",result="ok"} 2`,
		`covers_transform_renders_total{format="avif",result="ok"} 1`,
		`covers_transform_renders_total{format="avif",result="error"} 1`,
		`covers_transform_renders_total{format="webp",result="error"} 0`,
		`covers_transform_placeholders_total 1`,
		`covers_transform_queue_depth 0`,
		`covers_transform_in_flight 0`,
		`covers_transform_render_duration_seconds_count{format="webp"} 2`,
		`covers_transform_render_duration_seconds_count{format="avif"} 2`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("metrics lack %q; got:\n%s", want, out)
		}
	}
}

// A WebP original whose EXIF orientation Probe does not read (Probe sees
// stored 360x240; libvips shows it upright as 240x360): a 3:1 box bigger
// than the upright width still comes out 3:1 and no larger than the source.
func TestRenderBoxWithOrientationProbeCannotSee(t *testing.T) {
	t.Parallel()
	img, err := vips.LoadImageFromBuffer(testdata(t, "exif-orientation-8.jpg"), vips.NewImportParams())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	defer img.Close()
	p := vips.NewWebpExportParams()
	p.Quality = 90
	src, _, err := img.ExportWebp(p) // keeps the EXIF orientation 8
	if err != nil {
		t.Fatalf("make webp source: %v", err)
	}
	if info, err := Probe(src, 0); err != nil || info.Width != 360 || info.Height != 240 {
		t.Fatalf("Probe(webp source) = %+v, %v; want stored 360x240", info, err)
	}
	r := newTestRenderer(t, nil)
	for _, f := range formats {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			checkOutput(t, render(t, r, src, Request{Width: 360, Height: 120, Format: f}), f, 240, 80)
		})
	}
}

// The corpus photo carrying EXIF (camera, serial, GPS), XMP, IPTC and an
// EXIF thumbnail of a 4:3 original: outputs keep none of it and are made
// from the 2:3 main image.
func TestRenderStripsPrivateMetadata(t *testing.T) {
	t.Parallel()
	src := testdata(t, "photo-1200x1800-exif-gps-xmp-iptc.jpg")
	r := newTestRenderer(t, nil)
	for _, f := range formats {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			res := render(t, r, src, Request{Width: 160, Format: f})
			checkOutput(t, res, f, 160, 240)
			for _, secret := range []string{"ExampleCam", "SN-0000-TEST", "Aitzol", "GPS", "Photoshop", "xmpmeta"} {
				if bytes.Contains(res.Bytes, []byte(secret)) {
					t.Fatalf("%s output contains %q", f, secret)
				}
			}
		})
	}
}
