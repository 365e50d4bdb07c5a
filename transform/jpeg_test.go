package transform

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"testing"

	"github.com/bookcovers/image-worker/cover"
)

// jpegMarkers lists the markers of a JPEG up to its first scan (SOS), with
// the first bytes of each segment's payload.
func jpegMarkers(tb testing.TB, buf []byte) (markers []byte, payloads [][]byte) {
	tb.Helper()
	if len(buf) < 4 || buf[0] != 0xff || buf[1] != 0xd8 {
		tb.Fatalf("not a JPEG: % x", buf[:min(len(buf), 4)])
	}
	for i := 2; i+4 <= len(buf); {
		if buf[i] != 0xff {
			tb.Fatalf("JPEG segment at %d does not start with 0xff", i)
		}
		m, n := buf[i+1], int(buf[i+2])<<8|int(buf[i+3])
		if i+2+n > len(buf) {
			tb.Fatalf("JPEG segment %#x at %d runs past the end", m, i)
		}
		markers, payloads = append(markers, m), append(payloads, buf[i+4:i+2+n])
		if m == 0xda { // SOS: entropy-coded data follows
			return markers, payloads
		}
		i += 2 + n
	}
	tb.Fatalf("JPEG has no scan")
	return nil, nil
}

// TestRenderJPEG: a .jpg variant is a JPEG of the right size that the
// standard library decodes too, baseline below JPEGProgressiveWidth and
// progressive (SOF2) from it, with no EXIF, XMP, IPTC or ICC segment left
// from originals that carry them.
func TestRenderJPEG(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	for _, src := range []string{"photo-1600x2400-baseline.jpg", "photo-1200x1800-exif-gps-xmp-iptc.jpg", "photo-1600x2400-adobergb-icc.jpg"} {
		for _, w := range []int{96, 160, JPEGProgressiveWidth, 640} {
			t.Run(fmt.Sprintf("%s/%d", src, w), func(t *testing.T) {
				t.Parallel()
				res := render(t, r, testdata(t, src), Request{Width: w, Format: cover.JPEG})
				checkOutput(t, res, cover.JPEG, w, w*3/2)
				cfg, err := jpeg.DecodeConfig(bytes.NewReader(res.Bytes))
				if err != nil || cfg.Width != w || cfg.Height != w*3/2 {
					t.Fatalf("image/jpeg DecodeConfig = %dx%d, %v; want %dx%d", cfg.Width, cfg.Height, err, w, w*3/2)
				}
				markers, payloads := jpegMarkers(t, res.Bytes)
				wantSOF := byte(0xc0) // baseline
				if w >= JPEGProgressiveWidth {
					wantSOF = 0xc2 // progressive
				}
				var sof []byte
				for i, m := range markers {
					switch {
					case m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc:
						sof = append(sof, m)
					case m == 0xe1 || m == 0xed || m == 0xe2 && bytes.HasPrefix(payloads[i], []byte("ICC_PROFILE")):
						t.Errorf("JPEG keeps an APP%d segment %q...; want EXIF, XMP, IPTC and ICC stripped", m-0xe0, payloads[i][:min(len(payloads[i]), 12)])
					}
				}
				if len(sof) != 1 || sof[0] != wantSOF {
					t.Fatalf("JPEG %d px wide has frame markers % x; want one %#x", w, sof, wantSOF)
				}
			})
		}
	}
}

// TestRenderJPEGFlattensAlpha: JPEG has no alpha, so a transparent original
// is flattened onto white: the transparent corner and hole are white, and
// the whole image matches the WebP render composited onto white.
func TestRenderJPEGFlattensAlpha(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	src := testdata(t, "cover-800x1200-alpha.png")
	d := checkOutput(t, render(t, r, src, Request{Width: 320, Format: cover.JPEG}), cover.JPEG, 320, 480)
	if d.bands != 3 {
		t.Fatalf("JPEG has %d bands; want 3", d.bands)
	}
	for _, p := range []struct {
		name   string
		fx, fy float64
	}{{"corner", 0, 0}, {"hole", 0.49, 0.2}} {
		c := meanRGB(d.pixels, p.fx, p.fy, p.fx+0.02, p.fy+0.02)
		if c[0] < 245 || c[1] < 245 || c[2] < 245 {
			t.Errorf("transparent %s is %.0f; want white", p.name, c)
		}
	}
	// The reference: the WebP render (alpha kept), composited onto white.
	ref := decodeOutput(t, render(t, r, src, Request{Width: 320, Format: cover.WebP}).Bytes)
	flat := toRGBA(ref.pixels).(*image.RGBA)
	for i := 0; i < len(flat.Pix); i += 4 { // premultiplied: add white times (1 - alpha)
		a := flat.Pix[i+3]
		for c := range 3 {
			flat.Pix[i+c] += 255 - a
		}
		flat.Pix[i+3] = 255
	}
	if s := ssim(t, d.pixels, flat); s < 0.9 {
		t.Fatalf("SSIM of the JPEG against the WebP render on white = %.3f; want at least 0.9", s)
	}
}
