package transform

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"strings"
	"testing"

	"github.com/buckket/go-blurhash"

	"github.com/bookcovers/image-worker/cover"
)

// bandsPNG encodes a w x h PNG made of horizontal bands, top to bottom,
// each taking its share of the height.
func bandsPNG(tb testing.TB, w, h int, bands ...color.Color) []byte {
	tb.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		c := bands[y*len(bands)/h]
		for x := range w {
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

var (
	red   = color.NRGBA{255, 0, 0, 255}
	blue  = color.NRGBA{0, 0, 255, 255}
	green = color.NRGBA{30, 160, 60, 255}
	white = color.NRGBA{255, 255, 255, 255}
)

func parseHex(tb testing.TB, s string) [3]float64 {
	tb.Helper()
	var r, g, b int
	if len(s) != 7 || s[0] != '#' {
		tb.Fatalf("colour %q is not #rrggbb", s)
	}
	if _, err := fmt.Sscanf(s, "#%02x%02x%02x", &r, &g, &b); err != nil {
		tb.Fatalf("colour %q: %v", s, err)
	}
	return [3]float64{float64(r), float64(g), float64(b)}
}

func near(a, b [3]float64, tol float64) bool {
	return math.Abs(a[0]-b[0]) <= tol && math.Abs(a[1]-b[1]) <= tol && math.Abs(a[2]-b[2]) <= tol
}

func rgbOf(c color.NRGBA) [3]float64 { return [3]float64{float64(c.R), float64(c.G), float64(c.B)} }

func TestMetaDominantColour(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	cases := []struct {
		name string
		src  []byte
		want [3]float64
	}{
		{"solid red PNG", bandsPNG(t, 400, 600, red), [3]float64{255, 0, 0}},
		{"solid blue PNG", bandsPNG(t, 200, 300, blue), [3]float64{0, 0, 255}},
		{"two thirds green, one third white", bandsPNG(t, 300, 450, green, green, white), rgbOf(green)},
		{"fully transparent is flattened onto white", bandsPNG(t, 100, 150, color.NRGBA{255, 0, 0, 0}), [3]float64{255, 255, 255}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m, err := r.Meta(context.Background(), c.src)
			if err != nil {
				t.Fatalf("Meta: %v", err)
			}
			if got := parseHex(t, m.DominantColor); !near(got, c.want, 2) {
				t.Errorf("dominant colour = %s (%v), want %v ±2", m.DominantColor, got, c.want)
			}
		})
	}
}

func TestMetaOfPhotos(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	cases := []struct {
		file string
		w, h int
	}{
		{"photo-1600x2400-baseline.jpg", 1600, 2400},
		{"photo-exif-orientation-6.jpg", 0, 0}, // upright size checked against Probe
		{"cover-800x1200-alpha.png", 800, 1200},
		{"cover-1200x1800.avif", 1200, 1800},
		{"photo-1600x2400-cmyk-noprofile.jpg", 1600, 2400},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			t.Parallel()
			src := testdata(t, c.file)
			m, err := r.Meta(context.Background(), src)
			if err != nil {
				t.Fatalf("Meta(%s): %v", c.file, err)
			}
			info, _ := Probe(src, DefaultConfig().MaxPixels)
			dw, dh := info.DisplaySize()
			if c.w != 0 && (dw != c.w || dh != c.h) {
				t.Fatalf("test data %s is %dx%d, want %dx%d", c.file, dw, dh, c.w, c.h)
			}
			if m.Width != dw || m.Height != dh {
				t.Errorf("Meta size = %dx%d, want the upright original %dx%d", m.Width, m.Height, dw, dh)
			}
			checkBlurHashShape(t, m.BlurHash)
			parseHex(t, m.DominantColor)
			lq := checkLQIP(t, m.LQIP)
			if got, want := float64(lq.height)/float64(lq.width), float64(dh)/float64(dw); math.Abs(got-want) > 0.2 {
				t.Errorf("LQIP %dx%d has aspect %.2f, want about %.2f", lq.width, lq.height, got, want)
			}
		})
	}
}

// checkLQIP decodes the data URI as WebP and checks the size limits.
func checkLQIP(t *testing.T, uri string) decoded {
	t.Helper()
	if len(uri) > MaxLQIPLength {
		t.Errorf("LQIP data URI is %d bytes, want <= %d", len(uri), MaxLQIPLength)
	}
	b64, ok := strings.CutPrefix(uri, "data:image/webp;base64,")
	if !ok {
		t.Fatalf("LQIP %.40q is not a WebP data URI", uri)
	}
	buf, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("LQIP base64: %v", err)
	}
	d := decodeOutput(t, buf)
	if d.format != cover.WebP || d.width > 32 || d.width < 4 || d.height < 1 {
		t.Errorf("LQIP decodes as %s %dx%d, want WebP at most 32 wide", d.format, d.width, d.height)
	}
	if len(d.metadataFields()) > 0 {
		t.Errorf("LQIP keeps metadata %v", d.metadataFields())
	}
	return d
}

func TestMetaLQIPColours(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	m, err := r.Meta(context.Background(), bandsPNG(t, 400, 600, red, blue))
	if err != nil {
		t.Fatal(err)
	}
	d := checkLQIP(t, m.LQIP)
	top, bottom := meanRGB(d.pixels, 0, 0, 1, 0.3), meanRGB(d.pixels, 0, 0.7, 1, 1)
	if top[0] < 180 || top[2] > 80 || bottom[2] < 180 || bottom[0] > 80 {
		t.Errorf("LQIP of red over blue: top %v, bottom %v; want red then blue", top, bottom)
	}
}

func TestMetaRefuses(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, func(c *Config) { c.MaxConcurrent, c.QueueSize = 1, 0 })
	cases := []struct {
		name string
		src  []byte
		want error
	}{
		{"html", []byte("<!doctype html><html></html>"), ErrNotAnImage},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>`), ErrUnsupportedType},
		{"bomb header", pngHeader(100000, 100000), ErrTooManyPixels},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := r.Meta(context.Background(), c.src); !errors.Is(err, c.want) {
				t.Errorf("Meta(%s) = %v, want %v", c.name, err, c.want)
			}
		})
	}
	t.Run("gate full", func(t *testing.T) {
		release, err := r.gate.acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		if _, err := r.Meta(context.Background(), bandsPNG(t, 20, 30, red)); !errors.Is(err, ErrOverloaded) {
			t.Errorf("Meta with the only slot taken and no queue = %v, want ErrOverloaded", err)
		}
	})
}

func checkBlurHashShape(t *testing.T, hash string) {
	t.Helper()
	if len(hash) != 4+2*BlurHashX*BlurHashY {
		t.Errorf("blurhash %q has %d characters, want %d", hash, len(hash), 4+2*BlurHashX*BlurHashY)
	}
	if !strings.HasPrefix(hash, "T") { // (3-1)+(4-1)*9 = 29 = 'T'
		t.Errorf("blurhash %q does not start with T (3x4 components)", hash)
	}
	const base83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
	for _, c := range hash {
		if !strings.ContainsRune(base83, c) {
			t.Errorf("blurhash %q has %q outside base 83", hash, c)
		}
	}
}

// gradientPNG is a w x h PNG whose grey level runs from 0 to 255 across
// (horizontal) or down.
func gradientPNG(tb testing.TB, w, h int, horizontal bool) []byte {
	tb.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := y * 255 / (h - 1)
			if horizontal {
				v = x * 255 / (w - 1)
			}
			img.SetGray(x, y, color.Gray{Y: uint8(v)})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// TestBlurHash decodes the hash Meta computes (with the library's decoder) and checks the picture it gives: four cosine
// terms down and three across blur a hard edge, so edges are checked as
// "redder above than below", smooth content as absolute levels.
func TestBlurHash(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	const w, h = 20, 30
	cases := []struct {
		name  string
		src   []byte
		check func(img [][][3]float64) string
	}{
		{"solid red", bandsPNG(t, 200, 300, red), func(img [][][3]float64) string {
			for y := range h {
				for x := range w {
					if !near(img[y][x], [3]float64{255, 0, 0}, 15) {
						return fmt.Sprintf("pixel %d,%d = %v, want red ±15", x, y, img[y][x])
					}
				}
			}
			return ""
		}},
		{"red over blue", bandsPNG(t, 200, 300, red, blue), func(img [][][3]float64) string {
			top, bottom := img[2][w/2], img[h-3][w/2]
			if top[0]-top[2] < 80 || bottom[2]-bottom[0] < 80 {
				return fmt.Sprintf("top %v, bottom %v; want red above blue", top, bottom)
			}
			return ""
		}},
		{"grey ramp down", gradientPNG(t, 200, 300, false), func(img [][][3]float64) string {
			for y := 1; y < h; y++ {
				if img[y][w/2][1] < img[y-1][w/2][1] {
					return fmt.Sprintf("row %d darker than row %d: %v < %v", y, y-1, img[y][w/2], img[y-1][w/2])
				}
			}
			if top, bottom := img[0][w/2], img[h-1][w/2]; top[1] > 60 || bottom[1] < 190 {
				return fmt.Sprintf("top %v, bottom %v; want dark to light", top, bottom)
			}
			return ""
		}},
		{"grey ramp across", gradientPNG(t, 300, 450, true), func(img [][][3]float64) string {
			left, right := img[h/2][0], img[h/2][w-1]
			if left[1] > 60 || right[1] < 190 || math.Abs(img[0][w/2][1]-img[h-1][w/2][1]) > 20 {
				return fmt.Sprintf("left %v, right %v, top %v, bottom %v; want dark to light across only", left, right, img[0][w/2], img[h-1][w/2])
			}
			return ""
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m, err := r.Meta(context.Background(), c.src)
			if err != nil {
				t.Fatal(err)
			}
			checkBlurHashShape(t, m.BlurHash)
			if msg := c.check(decodeBlurHash(t, m.BlurHash, w, h)); msg != "" {
				t.Errorf("blurhash %s decodes wrong: %s", m.BlurHash, msg)
			}
		})
	}
}

// TestEncodeBlurHashKnownVectors checks hashes computed by hand from the
// algorithm. On one pixel every basis is 1, so the AC factor is 2*linear(c):
// 2 for a full channel, quantised maximum 82 ('~', max 0.5), AC quantised
// to 18 (clamped) or 9 for a zero channel; the DC is the colour
// (0xff0000 = "TI:j", 0xffffff = "TSUA").
func TestEncodeBlurHashKnownVectors(t *testing.T) {
	t.Parallel()
	solid := func(w, h int, c [3]byte) []byte {
		b := make([]byte, 0, w*h*3)
		for range w * h {
			b = append(b, c[0], c[1], c[2])
		}
		return b
	}
	cases := []struct {
		name   string
		rgb    []byte
		w, h   int
		cx, cy int
		want   string
	}{
		{"red 1x1, 2x1 components", solid(1, 1, [3]byte{255, 0, 0}), 1, 1, 2, 1, "1~TI:j|c"},
		{"white 1x1, 2x1 components", solid(1, 1, [3]byte{255, 255, 255}), 1, 1, 2, 1, "1~TSUA~q"},
		{"black, DC only", solid(4, 4, [3]byte{0, 0, 0}), 4, 4, 1, 1, "000000"},
		{"bad components", solid(2, 2, [3]byte{1, 2, 3}), 2, 2, 0, 4, ""},
		{"short buffer", []byte{1, 2, 3}, 2, 2, 3, 4, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := EncodeBlurHash(c.rgb, c.w, c.h, c.cx, c.cy); got != c.want {
				t.Errorf("EncodeBlurHash(%s) = %q, want %q", c.name, got, c.want)
			}
		})
	}
}

// decodeBlurHash decodes a hash with github.com/buckket/go-blurhash into h
// rows of w sRGB pixels.
func decodeBlurHash(t *testing.T, hash string, w, h int) [][][3]float64 {
	t.Helper()
	img, err := blurhash.Decode(hash, w, h, 1)
	if err != nil {
		t.Fatalf("decode blurhash %q: %v", hash, err)
	}
	out := make([][][3]float64, h)
	for y := range h {
		out[y] = make([][3]float64, w)
		for x := range w {
			r, g, b, _ := img.At(x, y).RGBA()
			out[y][x] = [3]float64{float64(r >> 8), float64(g >> 8), float64(b >> 8)}
		}
	}
	return out
}

func TestDominantColourBuckets(t *testing.T) {
	t.Parallel()
	px := func(n int, c [3]byte) []byte { return bytes.Repeat(c[:], n) }
	cases := []struct {
		name string
		rgb  []byte
		want string
	}{
		{"empty", nil, "#000000"},
		{"one colour", px(10, [3]byte{0x7a, 0x5c, 0x3e}), "#7a5c3e"},
		{"majority wins", append(px(6, [3]byte{10, 200, 10}), px(4, [3]byte{250, 250, 250})...), "#0ac80a"},
		{"near shades share a bucket and average", append(px(3, [3]byte{100, 100, 100}), append(px(3, [3]byte{102, 102, 102}), px(5, [3]byte{0, 0, 0})...)...), "#656565"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := dominantColour(c.rgb); got != c.want {
				t.Errorf("dominantColour(%s) = %s, want %s", c.name, got, c.want)
			}
		})
	}
}
