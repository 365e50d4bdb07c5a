package transform

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/bookcovers/image-worker/cover"
)

// Trimming a scanned cover's uniform border (TRIM_BORDERS) happens in two
// steps. At ingest TrimBox finds the box of the original that is not
// border (libvips find_trim) and the manifest records it; every render of
// that version then crops to the recorded box first (Request.Trim), so
// the variants of a version never depend on the setting of the replica
// that renders them, and a change of the setting only affects covers
// stored after it.

// DefaultTrimThreshold is libvips find_trim's default: how far, in 0-255
// units of the median-filtered sample, a pixel must be from the border
// colour to count as content.
const DefaultTrimThreshold = 10

const (
	// trimSampleWidth bounds the sample the border is found in: finding
	// it is a shrink-on-load decode, not a full one. The box is grown
	// outward by one sample pixel when mapped back, so it never cuts into
	// the cover.
	trimSampleWidth = 800
	// minTrimKept refuses a box narrower or lower than this fraction of
	// the original: a cover that is mostly flat background with a small
	// picture is not a scan with a border, and cutting to the picture would
	// lose the cover.
	minTrimKept = 0.4
	// minTrimCut ignores a border thinner than this fraction on both axes:
	// not worth a different render path.
	minTrimCut = 0.01
)

// TrimBox finds the box of src inside its uniform border (borderColour,
// alpha flattened onto white):
// the zero Rect when there is no border worth trimming, or when the box
// would keep less than minTrimKept of either side. threshold <= 0 means
// DefaultTrimThreshold. Like Meta it probes first and holds one render
// slot for one shrink-on-load decode in a render worker.
func (r *Renderer) TrimBox(ctx context.Context, src []byte, threshold float64) (cover.Rect, error) {
	info, err := Probe(src, r.cfg.MaxPixels)
	if err != nil {
		return cover.Rect{}, fmt.Errorf("transform trim: %w", err)
	}
	release, err := r.gate.acquire(ctx)
	if err != nil {
		return cover.Rect{}, fmt.Errorf("transform trim: %w", err)
	}
	defer release()
	start := time.Now()
	resp, _, err := r.pool.call(ctx, workerRequest{Op: opTrim, Threshold: threshold}, src)
	r.trimDuration.UpdateDuration(start)
	if err != nil {
		return cover.Rect{}, fmt.Errorf("transform trim %s %dx%d: %w", info.Type, info.Width, info.Height, err)
	}
	if resp.Trim == nil {
		return cover.Rect{}, nil
	}
	return *resp.Trim, nil
}

// trimBox runs find_trim on an upright sample of src at most
// trimSampleWidth wide and maps the box to the dispW x dispH original.
func trimBox(t SourceType, src []byte, dispW, dispH int, threshold float64) (cover.Rect, error) {
	if threshold <= 0 {
		threshold = DefaultTrimThreshold
	}
	img, err := loadThumbnail(t, src, trimSampleWidth, vipsMaxCoord, vips.InterestingNone, vips.SizeDown)
	if err != nil {
		return cover.Rect{}, err
	}
	defer img.Close()
	if err := toOpaqueSRGB(img); err != nil {
		return cover.Rect{}, err
	}
	if err := materialise(img); err != nil { // read twice: the corner, then find_trim
		return cover.Rect{}, err
	}
	bg, ok, err := borderColour(img, threshold)
	if err != nil || !ok {
		return cover.Rect{}, err
	}
	left, top, w, h, err := img.FindTrim(threshold, &bg)
	if err != nil {
		return cover.Rect{}, vipsFailed("find trim", err)
	}
	return trimToOriginal(cover.Rect{Left: left, Top: top, Width: w, Height: h}, img.Width(), img.Height(), dispW, dispH), nil
}

// borderColour is the colour of a border: the colour of the corner that
// most other corners share (within threshold on every channel; the
// top-left one first on a tie). A border on at least one whole side
// covers two corners; when no two corners agree there is no border.
func borderColour(img *vips.ImageRef, threshold float64) (vips.Color, bool, error) {
	w, h := img.Width()-1, img.Height()-1
	var corners [4][]float64
	for i, p := range [4][2]int{{0, 0}, {w, 0}, {0, h}, {w, h}} {
		v, err := img.GetPoint(p[0], p[1])
		if err != nil || len(v) < 3 {
			return vips.Color{}, false, fmt.Errorf("trim: border colour: %w: %v", ErrRenderFailed, err)
		}
		corners[i] = v
	}
	best, bestN := 0, 0
	for i, a := range corners {
		n := 0
		for _, b := range corners {
			if math.Abs(a[0]-b[0]) <= threshold && math.Abs(a[1]-b[1]) <= threshold && math.Abs(a[2]-b[2]) <= threshold {
				n++
			}
		}
		if n > bestN {
			best, bestN = i, n
		}
	}
	if bestN < 2 {
		return vips.Color{}, false, nil
	}
	c := corners[best]
	return vips.Color{R: uint8(c[0]), G: uint8(c[1]), B: uint8(c[2])}, true, nil
}

// trimmedSample is the preview sample of the box of src (in the dispW x
// dispH original) as packed opaque RGB (trimmedSamplePixels).
func trimmedSample(t SourceType, src []byte, box cover.Rect, dispW, dispH int) ([]byte, error) {
	_, rgb, _, _, err := trimmedSamplePixels(t, src, box, dispW, dispH)
	return rgb, err
}

// trimmedSamplePixels is the preview sample of the box of src (in the
// dispW x dispH original): a thumbnail in which the box is about
// metaSampleWidth wide, cropped to the box, as samplePixels gives it.
func trimmedSamplePixels(t SourceType, src []byte, box cover.Rect, dispW, dispH int) (sample, rgb []byte, w, h int, err error) {
	width := max(metaSampleWidth*dispW/max(box.Width, 1), metaSampleWidth)
	img, err := loadThumbnail(t, src, width, vipsMaxCoord, vips.InterestingNone, vips.SizeDown)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	defer img.Close()
	b := scaleRect(box, dispW, dispH, img.Width(), img.Height())
	if err := img.ExtractArea(b.Left, b.Top, b.Width, b.Height); err != nil {
		return nil, nil, 0, 0, vipsFailed("trim sample", err)
	}
	return samplePixels(img)
}

// computeMetaOf is computeMeta of the original, or of its trim box when
// trim is set (MetaOf): the previews of what the variants show.
func computeMetaOf(info Info, src []byte, trim cover.Rect) (Meta, error) {
	if trim.IsZero() {
		return computeMeta(info.Type, src)
	}
	dispW, dispH := info.DisplaySize()
	if err := (Request{Trim: trim}).validateFor(dispW, dispH); err != nil {
		return Meta{}, err
	}
	sample, raw, w, h, err := trimmedSamplePixels(info.Type, src, trim, dispW, dispH)
	if err != nil {
		return Meta{}, err
	}
	return previewsOf(sample, raw, w, h)
}

// trimToOriginal maps box, found in a sampleW x sampleH sample, to the
// dispW x dispH original, grown outward by one sample pixel when the sample
// is smaller, and applies the minTrimKept and minTrimCut rules.
func trimToOriginal(box cover.Rect, sampleW, sampleH, dispW, dispH int) cover.Rect {
	if !box.Within(sampleW, sampleH) {
		return cover.Rect{} // find_trim found no content: a flat image
	}
	sx, sy := float64(dispW)/float64(sampleW), float64(dispH)/float64(sampleH)
	grow := 0
	if sx > 1 || sy > 1 {
		grow = 1
	}
	l := max(int(math.Floor(float64(box.Left-grow)*sx)), 0)
	t := max(int(math.Floor(float64(box.Top-grow)*sy)), 0)
	r := min(int(math.Ceil(float64(box.Left+box.Width+grow)*sx)), dispW)
	b := min(int(math.Ceil(float64(box.Top+box.Height+grow)*sy)), dispH)
	out := cover.Rect{Left: l, Top: t, Width: r - l, Height: b - t}
	switch {
	case float64(out.Width) < minTrimKept*float64(dispW), float64(out.Height) < minTrimKept*float64(dispH):
		return cover.Rect{}
	case float64(dispW-out.Width) <= minTrimCut*float64(dispW) && float64(dispH-out.Height) <= minTrimCut*float64(dispH):
		return cover.Rect{}
	}
	return out
}

// trimShrink is the shrink-on-load of a trimmed output: for a JPEG the DCT
// scale its box would get from vips_thumbnail (jpegShrink of the box), for
// every other type none (a full decode, then the crop).
func trimShrink(t SourceType, g geometry, req Request) int {
	if t == TypeJPEG {
		return jpegShrink(req.Trim.Width, req.Trim.Height, g, req)
	}
	return 1
}

// renderTrimmed is the single render of a trimmed request: the original
// decoded at trimShrink, then derive with its trimmed level, the steps a
// ladder's trimmed outputs take from their shared decode, so both give the
// same pixels.
func (e engine) renderTrimmed(t SourceType, src []byte, g geometry, req Request) (Result, error) {
	l := level{shrink: trimShrink(t, g, req), trim: req.Trim}
	base, err := loadShrunk(t, src, l.shrink)
	if err != nil {
		return Result{}, err
	}
	defer base.Close()
	return e.derive(base, l, g, req, padColourOf(t, src, req.Trim, g.srcW, g.srcH))
}

// cropToTrim turns img, the original as loaded (at some shrink, not yet
// upright), upright and crops it to the trim box scaled to its size: what
// derive does before the resize of a trimmed output.
func cropToTrim(img *vips.ImageRef, g geometry, trim cover.Rect) error {
	if err := img.AutoRotate(); err != nil {
		return vipsFailed("rotate", err)
	}
	box := scaleRect(trim, g.srcW, g.srcH, img.Width(), img.Height())
	if err := img.ExtractArea(box.Left, box.Top, box.Width, box.Height); err != nil {
		return vipsFailed("trim", err)
	}
	return nil
}

// scaleRect maps r, a box of a srcW x srcH original, onto the same
// original loaded as w x h (a shrink-on-load), outward to whole pixels and
// clamped to the image.
func scaleRect(r cover.Rect, srcW, srcH, w, h int) cover.Rect {
	sx, sy := float64(w)/float64(max(srcW, 1)), float64(h)/float64(max(srcH, 1))
	l := min(max(int(math.Floor(float64(r.Left)*sx)), 0), w-1)
	t := min(max(int(math.Floor(float64(r.Top)*sy)), 0), h-1)
	right := min(max(int(math.Ceil(float64(r.Left+r.Width)*sx)), l+1), w)
	bottom := min(max(int(math.Ceil(float64(r.Top+r.Height)*sy)), t+1), h)
	return cover.Rect{Left: l, Top: t, Width: right - l, Height: bottom - t}
}
