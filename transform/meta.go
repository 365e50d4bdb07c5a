package transform

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image/color"
	"image/png"
	"math"
	"time"

	"github.com/davidbyttow/govips/v2/vips"
)

// Meta describes what a page can paint before a cover arrives: the original's
// upright size and three previews computed from its pixels.
type Meta struct {
	Width, Height int    // the original, upright (Info.DisplaySize)
	DominantColor string // "#rrggbb"
	BlurHash      string // 3x4 components (3 across, 4 down: a 2:3 cover)
	LQIP          string // "data:image/webp;base64,...", at most MaxLQIPLength bytes
}

// Preview sizes. The sample is what the dominant colour and the blurhash are
// computed from; the LQIP is a WebP this wide, re-encoded smaller until its
// data URI fits MaxLQIPLength.
const (
	metaSampleWidth  = 32
	BlurHashX        = 3
	BlurHashY        = 4
	MaxLQIPLength    = 1024
	lqipPrefix       = "data:image/webp;base64,"
	colourBucketBits = 4 // levels per channel when counting colours: 16
)

// lqipSteps are tried in order until the data URI fits: width, quality.
var lqipSteps = [...]struct{ width, quality int }{{16, 30}, {16, 10}, {12, 10}, {8, 5}}

// Meta computes the previews of an original. Like Render it probes first (a
// bomb is refused before it queues), then holds one slot of the render gate
// while a render worker makes a single shrink-on-load decode to
// metaSampleWidth pixels wide, which every preview is taken from. Alpha is
// flattened onto white.
//
// Metric: covers_transform_meta_total{result="ok|error"}.
func (r *Renderer) Meta(ctx context.Context, src []byte) (Meta, error) {
	info, err := Probe(src, r.cfg.MaxPixels)
	if err != nil {
		return Meta{}, fmt.Errorf("transform meta: %w", err)
	}
	release, err := r.gate.acquire(ctx)
	if err != nil {
		return Meta{}, fmt.Errorf("transform meta: %w", err)
	}
	defer release()
	start := time.Now()
	resp, _, err := r.pool.call(ctx, workerRequest{Op: opMeta}, src)
	r.metaDuration.UpdateDuration(start)
	if err == nil && resp.Meta == nil {
		err = fmt.Errorf("worker sent no metadata: %w", ErrRenderFailed)
	}
	if err != nil {
		r.metaOutcomes[1].Inc()
		return Meta{}, fmt.Errorf("transform meta from %s %dx%d: %w", info.Type, info.Width, info.Height, err)
	}
	r.metaOutcomes[0].Inc()
	m := *resp.Meta
	m.Width, m.Height = info.DisplaySize()
	return m, nil
}

// computeMeta runs libvips on an original of type t (in a render worker);
// every failure wraps ErrRenderFailed.
func computeMeta(t SourceType, src []byte) (Meta, error) {
	img, err := loadThumbnail(t, src, metaSampleWidth, vipsMaxCoord, vips.InterestingNone, vips.SizeDown)
	if err != nil {
		return Meta{}, err
	}
	defer img.Close()
	if err := toOpaqueSRGB(img); err != nil {
		return Meta{}, err
	}
	// libvips evaluates the sequential thumbnail pipeline once: into a
	// lossless sample that both the pixel statistics and the LQIP read.
	pp := vips.NewPngExportParams()
	pp.Compression = 1
	pp.StripMetadata = true
	sample, _, err := img.ExportPng(pp)
	if err != nil {
		return Meta{}, vipsFailed("sample", err)
	}
	raw, w, h, err := rgbPixels(sample)
	if err != nil {
		return Meta{}, err
	}
	lqip, err := encodeLQIP(sample)
	if err != nil {
		return Meta{}, err
	}
	return Meta{
		DominantColor: dominantColour(raw),
		BlurHash:      EncodeBlurHash(raw, w, h, BlurHashX, BlurHashY),
		LQIP:          lqip,
	}, nil
}

// toOpaqueSRGB normalises like Render, then flattens alpha onto white and
// turns grey into three bands, leaving 8-bit sRGB with exactly 3 bands.
func toOpaqueSRGB(img *vips.ImageRef) error {
	if err := normalise(img); err != nil {
		return err
	}
	if img.HasAlpha() {
		if err := img.Flatten(&vips.Color{R: 255, G: 255, B: 255}); err != nil {
			return vipsFailed("flatten", err)
		}
	}
	if img.Bands() < 3 {
		if err := img.ToColorSpace(vips.InterpretationSRGB); err != nil {
			return vipsFailed("colourspace srgb", err)
		}
	}
	if img.BandFormat() != vips.BandFormatUchar {
		if err := img.Cast(vips.BandFormatUchar); err != nil {
			return vipsFailed("cast uchar", err)
		}
	}
	if img.Bands() != 3 {
		return fmt.Errorf("preview: %d bands, want 3: %w", img.Bands(), ErrRenderFailed)
	}
	return nil
}

// rgbPixels decodes the PNG sample into packed 8-bit RGB.
func rgbPixels(sample []byte) ([]byte, int, int, error) {
	img, err := png.Decode(bytes.NewReader(sample))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("decode sample: %w: %w", ErrRenderFailed, err)
	}
	b := img.Bounds()
	out := make([]byte, 0, b.Dx()*b.Dy()*3)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			out = append(out, c.R, c.G, c.B)
		}
	}
	return out, b.Dx(), b.Dy(), nil
}

// encodeLQIP shrinks the sample to a tiny WebP and returns it as a data URI
// of at most MaxLQIPLength bytes.
func encodeLQIP(sample []byte) (string, error) {
	for _, step := range lqipSteps {
		var img *vips.ImageRef
		var vipsErr error
		_ = withLoader(TypePNG, func() error { img, vipsErr = vips.NewImageFromBuffer(sample); return nil })
		if vipsErr != nil {
			return "", vipsFailed("load sample", vipsErr)
		}
		uri, err := lqipAt(img, step.width, step.quality)
		img.Close()
		if err != nil {
			return "", err
		}
		if len(uri) <= MaxLQIPLength {
			return uri, nil
		}
	}
	return "", fmt.Errorf("lqip: no data URI within %d bytes: %w", MaxLQIPLength, ErrRenderFailed)
}

func lqipAt(img *vips.ImageRef, width, quality int) (string, error) {
	if img.Width() > width {
		if err := img.Resize(float64(width)/float64(img.Width()), vips.KernelLanczos3); err != nil {
			return "", vipsFailed("lqip resize", err)
		}
	}
	if err := img.RemoveMetadata(); err != nil {
		return "", vipsFailed("lqip remove metadata", err)
	}
	p := vips.NewWebpExportParams()
	p.Quality = quality
	p.StripMetadata = true
	p.ReductionEffort = 6
	buf, _, err := img.ExportWebp(p)
	if err != nil {
		return "", vipsFailed("lqip encode", err)
	}
	if buf, err = stripWebPMetadata(buf); err != nil {
		return "", fmt.Errorf("lqip: %w: %w", ErrRenderFailed, err)
	}
	return lqipPrefix + base64.StdEncoding.EncodeToString(buf), nil
}

// dominantColour is the most common colour of packed RGB pixels, counted in
// buckets of 16 levels per channel, reported as the mean of its bucket (so a
// solid colour comes back exactly). Ties go to the lowest bucket.
func dominantColour(rgb []byte) string {
	const shift = 8 - colourBucketBits
	var counts [1 << (3 * colourBucketBits)]int
	var sums [1 << (3 * colourBucketBits)][3]int
	for i := 0; i+2 < len(rgb); i += 3 {
		b := int(rgb[i])>>shift<<(2*colourBucketBits) | int(rgb[i+1])>>shift<<colourBucketBits | int(rgb[i+2])>>shift
		counts[b]++
		sums[b][0] += int(rgb[i])
		sums[b][1] += int(rgb[i+1])
		sums[b][2] += int(rgb[i+2])
	}
	best := 0
	for b, n := range counts {
		if n > counts[best] {
			best = b
		}
	}
	n := counts[best]
	if n == 0 {
		return "#000000"
	}
	avg := func(s int) int { return int(math.Round(float64(s) / float64(n))) }
	return fmt.Sprintf("#%02x%02x%02x", avg(sums[best][0]), avg(sums[best][1]), avg(sums[best][2]))
}

// blurHashAlphabet is BlurHash's base 83.
const blurHashAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"

// EncodeBlurHash encodes packed 8-bit sRGB pixels (w*h*3 bytes) as a
// BlurHash (https://blurha.sh, the public algorithm of woltapp/blurhash)
// with cx components across and cy down, each 1..9. The result has
// 4+2*cx*cy characters; its first character encodes (cx-1)+(cy-1)*9.
func EncodeBlurHash(rgb []byte, w, h, cx, cy int) string {
	if cx < 1 || cx > 9 || cy < 1 || cy > 9 || w < 1 || h < 1 || len(rgb) < w*h*3 {
		return ""
	}
	var lin [256]float64
	for i := range lin {
		lin[i] = srgbToLinear(i)
	}
	factors := make([][3]float64, cx*cy)
	cosX := make([]float64, w)
	cosY := make([]float64, h)
	for j := 0; j < cy; j++ {
		for y := range h {
			cosY[y] = math.Cos(math.Pi * float64(j) * float64(y) / float64(h))
		}
		for i := 0; i < cx; i++ {
			for x := range w {
				cosX[x] = math.Cos(math.Pi * float64(i) * float64(x) / float64(w))
			}
			var f [3]float64
			for y := range h {
				row := rgb[y*w*3:]
				for x := range w {
					basis := cosX[x] * cosY[y]
					f[0] += basis * lin[row[3*x]]
					f[1] += basis * lin[row[3*x+1]]
					f[2] += basis * lin[row[3*x+2]]
				}
			}
			norm := 2.0
			if i == 0 && j == 0 {
				norm = 1
			}
			scale := norm / float64(w*h)
			factors[j*cx+i] = [3]float64{f[0] * scale, f[1] * scale, f[2] * scale}
		}
	}
	out := make([]byte, 0, 4+2*cx*cy)
	out = appendBase83(out, (cx-1)+(cy-1)*9, 1)
	maxValue := 1.0
	if len(factors) > 1 {
		actual := 0.0
		for _, f := range factors[1:] {
			actual = max(actual, math.Abs(f[0]), math.Abs(f[1]), math.Abs(f[2]))
		}
		q := int(max(0, min(82, math.Floor(actual*166-0.5))))
		maxValue = float64(q+1) / 166
		out = appendBase83(out, q, 1)
	} else {
		out = appendBase83(out, 0, 1)
	}
	dc := factors[0]
	out = appendBase83(out, linearToSRGB(dc[0])<<16|linearToSRGB(dc[1])<<8|linearToSRGB(dc[2]), 4)
	for _, f := range factors[1:] {
		q := func(v float64) int {
			return int(max(0, min(18, math.Floor(signPow(v/maxValue, 0.5)*9+9.5))))
		}
		out = appendBase83(out, q(f[0])*19*19+q(f[1])*19+q(f[2]), 2)
	}
	return string(out)
}

func appendBase83(b []byte, n, digits int) []byte {
	for i := 1; i <= digits; i++ {
		d := n / int(math.Pow(83, float64(digits-i))) % 83
		b = append(b, blurHashAlphabet[d])
	}
	return b
}

func srgbToLinear(v int) float64 {
	f := float64(v) / 255
	if f <= 0.04045 {
		return f / 12.92
	}
	return math.Pow((f+0.055)/1.055, 2.4)
}

func linearToSRGB(v float64) int {
	v = max(0, min(1, v))
	if v <= 0.0031308 {
		return int(v*12.92*255 + 0.5)
	}
	return int((1.055*math.Pow(v, 1/2.4)-0.055)*255 + 0.5)
}

func signPow(v, exp float64) float64 {
	return math.Copysign(math.Pow(math.Abs(v), exp), v)
}
