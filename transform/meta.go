package transform

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"time"

	"github.com/buckket/go-blurhash"
	"github.com/davidbyttow/govips/v2/vips"

	"github.com/bookcovers/image-worker/cover"
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
	return r.MetaOf(ctx, src, cover.Rect{})
}

// MetaOf is Meta of the trim box of src (a manifest's Trim) when trim is
// not zero: the previews of the box, and its size (trim.go).
func (r *Renderer) MetaOf(ctx context.Context, src []byte, trim cover.Rect) (Meta, error) {
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
	resp, _, err := r.pool.call(ctx, workerRequest{Op: opMeta, Req: Request{Trim: trim}}, src)
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
	if !trim.IsZero() {
		m.Width, m.Height = trim.Width, trim.Height
	}
	return m, nil
}

// computeMeta runs libvips on an original of type t (in a render worker);
// every failure wraps ErrRenderFailed.
func computeMeta(t SourceType, src []byte) (Meta, error) {
	sample, raw, w, h, err := loadSample(t, src)
	if err != nil {
		return Meta{}, err
	}
	return previewsOf(sample, raw, w, h)
}

// previewsOf computes the previews from a sample (loadSample's).
func previewsOf(sample, raw []byte, w, h int) (Meta, error) {
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

// loadSample decodes an original of type t into the sample every preview
// is computed from: metaSampleWidth wide, opaque 8-bit sRGB (toOpaqueSRGB),
// as a lossless PNG and as packed RGB pixels w x h. libvips evaluates the
// sequential thumbnail pipeline once, into the PNG.
func loadSample(t SourceType, src []byte) (sample, rgb []byte, w, h int, err error) {
	img, err := loadThumbnail(t, src, metaSampleWidth, vipsMaxCoord, vips.InterestingNone, vips.SizeDown)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	defer img.Close()
	return samplePixels(img)
}

// samplePixels makes img, a small thumbnail, into a preview sample: opaque
// 8-bit sRGB (toOpaqueSRGB), as a lossless PNG and as packed RGB pixels.
func samplePixels(img *vips.ImageRef) (sample, rgb []byte, w, h int, err error) {
	if err := toOpaqueSRGB(img); err != nil {
		return nil, nil, 0, 0, err
	}
	pp := vips.NewPngExportParams()
	pp.Compression = 1
	pp.StripMetadata = true
	if sample, _, err = img.ExportPng(pp); err != nil {
		return nil, nil, 0, 0, vipsFailed("sample", err)
	}
	rgb, w, h, err = rgbPixels(sample)
	return sample, rgb, w, h, err
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

// dominantColour is dominantRGB as "#rrggbb".
func dominantColour(rgb []byte) string {
	c := dominantRGB(rgb)
	return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2])
}

// dominantRGB is the most common colour of packed RGB pixels, counted in
// buckets of 16 levels per channel, reported as the mean of its bucket (so a
// solid colour comes back exactly). Ties go to the lowest bucket; no pixels
// is black.
func dominantRGB(rgb []byte) [3]uint8 {
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
		return [3]uint8{}
	}
	avg := func(s int) uint8 { return uint8(math.Round(float64(s) / float64(n))) }
	return [3]uint8{avg(sums[best][0]), avg(sums[best][1]), avg(sums[best][2])}
}

// EncodeBlurHash encodes packed 8-bit sRGB pixels (w*h*3 bytes) as a
// BlurHash (https://blurha.sh) with cx components across and cy down, each
// 1..9, through github.com/buckket/go-blurhash. The result has 4+2*cx*cy
// characters; its first character encodes (cx-1)+(cy-1)*9. It is "" for
// components out of range or a short buffer.
func EncodeBlurHash(rgb []byte, w, h, cx, cy int) string {
	if cx < 1 || cx > 9 || cy < 1 || cy > 9 || w < 1 || h < 1 || len(rgb) < w*h*3 {
		return ""
	}
	hash, err := blurhash.Encode(cx, cy, packedRGB{pix: rgb, w: w, h: h})
	if err != nil {
		return ""
	}
	return hash
}

// packedRGB is an image.Image over packed 8-bit RGB pixels, read in place.
type packedRGB struct {
	pix  []byte
	w, h int
}

func (p packedRGB) ColorModel() color.Model { return color.RGBAModel }
func (p packedRGB) Bounds() image.Rectangle { return image.Rect(0, 0, p.w, p.h) }
func (p packedRGB) At(x, y int) color.Color {
	i := 3 * (y*p.w + x)
	return color.RGBA{R: p.pix[i], G: p.pix[i+1], B: p.pix[i+2], A: 255}
}
