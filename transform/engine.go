package transform

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/bookcovers/image-worker/cover"
)

// engine runs libvips on the calling thread. Only render workers use it
// (worker.go): every decode of an original happens in a worker process,
// with one loader unblocked for it (loader.go).
type engine struct {
	cfg   Config
	clock *encodeClock // time spent encoding in the current operation; nil outside a worker loop
}

// loadThumbnail runs vips_thumbnail_buffer (shrink-on-load, EXIF
// orientation, CMYK import) with only the loader of t unblocked. fail=TRUE
// makes loaders stop at the first warning (a truncated JPEG) instead of
// returning grey-filled pixels.
func loadThumbnail(t SourceType, src []byte, width, height int, crop vips.Interesting, size vips.Size) (*vips.ImageRef, error) {
	return loadWith(t, "thumbnail", func() (*vips.ImageRef, error) {
		return vips.LoadThumbnailFromBuffer(src, width, height, crop, size, vips.NewImportParams())
	})
}

// loadWith runs a govips load with only the loader of t unblocked.
func loadWith(t SourceType, op string, load func() (*vips.ImageRef, error)) (*vips.ImageRef, error) {
	var img *vips.ImageRef
	var vipsErr error
	if err := withLoader(t, func() error {
		img, vipsErr = load()
		return nil
	}); err != nil {
		return nil, err
	}
	if vipsErr != nil {
		return nil, vipsFailed(op, vipsErr)
	}
	return img, nil
}

// checkDecode decodes the whole original once, into the metaSampleWidth
// sample Meta uses (loadSample), with fail on: a truncated or corrupt body
// that the header checks cannot see fails here with ErrRenderFailed. The
// Traits of the sample come back with it, so the ingest check needs no
// second decode to know what the picture looks like.
func (e engine) checkDecode(t SourceType, src []byte) (Traits, error) {
	_, rgb, w, h, err := loadSample(t, src) // exporting the sample pulls every pixel through the loader
	if err != nil {
		return Traits{}, err
	}
	return traitsOf(rgb, w, h), nil
}

// render runs libvips: thumbnail with shrink-on-load, colour normalisation,
// encoding. Every libvips failure is wrapped in ErrRenderFailed.
func (e engine) render(t SourceType, src []byte, g geometry, req Request) (Result, error) {
	if !req.Trim.IsZero() {
		return e.renderTrimmed(t, src, g, req)
	}
	w, h, crop, size := thumbArgs(g, req)
	img, err := loadThumbnail(t, src, w, h, crop, size)
	if err != nil {
		return Result{}, err
	}
	defer img.Close()
	if err := fitCrop(img, g); err != nil {
		return Result{}, err
	}
	if err := padFit(img, g, padColourOf(t, src, cover.Rect{}, g.srcW, g.srcH)); err != nil {
		return Result{}, err
	}
	return e.finish(img, req.Format)
}

// thumbArgs are the vips_thumbnail arguments of the plan g of req.
func thumbArgs(g geometry, req Request) (width, height int, crop vips.Interesting, size vips.Size) {
	size = vips.SizeDown
	if req.Enlarge {
		size = vips.SizeBoth
	}
	// Width-only requests keep the aspect inside a box MaxOutputSide high, so
	// an extreme aspect (1x20000) still gives an image every encoder accepts.
	crop, height = vips.InterestingNone, MaxOutputSide
	switch {
	case g.crop:
		crop, height = vips.InterestingAttention, g.height
	case g.fit: // inside the box, no crop: padFit fills the rest
		height = g.height
	}
	return g.width, height, crop, size
}

// fitCrop repairs a box thumbnail whose original was smaller than Probe's
// header suggested (an orientation it could not see): it crops to the
// largest box of the requested aspect that fits (cover.ClampSize).
func fitCrop(img *vips.ImageRef, g geometry) error {
	if g.crop && (img.Width() != g.width || img.Height() != g.height) {
		w, h := cover.ClampSize(img.Width(), img.Height(), g.width, g.height)
		if err := img.SmartCrop(w, h, vips.InterestingAttention); err != nil {
			return vipsFailed("crop", err)
		}
	}
	return nil
}

// finish brings a sized image to the output rules (normalise), removes its
// metadata and encodes it: the last steps of render and of each output of
// a ladder.
func (e engine) finish(img *vips.ImageRef, f cover.Format) (Result, error) {
	if err := normalise(img); err != nil {
		return Result{}, err
	}
	// Drop EXIF/XMP/IPTC fields before the saver sees them: libvips 8.14
	// webpsave ignores strip (libvips#3340).
	if err := img.RemoveMetadata(); err != nil {
		return Result{}, vipsFailed("remove metadata", err)
	}
	buf, err := e.encode(img, f)
	if err != nil {
		return Result{}, err
	}
	return Result{Bytes: buf, Width: img.Width(), Height: img.Height(), Format: f, ContentType: f.ContentType()}, nil
}

// encode writes img in format f with every metadata block stripped
// (libvips evaluates the whole pipeline while encoding).
func (e engine) encode(img *vips.ImageRef, f cover.Format) ([]byte, error) {
	defer e.clock.since(time.Now())
	var (
		buf []byte
		err error
	)
	switch f {
	case cover.WebP:
		p := vips.NewWebpExportParams()
		p.Quality = e.cfg.WebPQuality
		p.StripMetadata = true
		buf, _, err = img.ExportWebp(p)
		if err == nil {
			// Even with no fields left, 8.14 webpsave writes a fresh
			// EXIF block (resolution, orientation 1): cut it out.
			buf, err = stripWebPMetadata(buf)
			if err != nil {
				return nil, fmt.Errorf("encode webp: %w: %w", ErrRenderFailed, err)
			}
		}
	case cover.AVIF:
		p := vips.NewAvifExportParams()
		p.Quality = e.cfg.AVIFQuality
		p.Effort = e.cfg.AVIFEffort
		p.Bitdepth = 8
		p.StripMetadata = true
		buf, _, err = img.ExportAvif(p)
	case cover.JPEG:
		buf, err = e.encodeJPEG(img)
	default:
		return nil, fmt.Errorf("encode %q: %w", f, cover.ErrUnsupportedFormat)
	}
	if err != nil {
		return nil, vipsFailed("encode "+string(f), err)
	}
	return buf, nil
}

// JPEGProgressiveWidth is the narrowest JPEG output written progressive
// (the medium preset and up): below it a progressive file is larger than a
// baseline one and a thumbnail arrives in one packet anyway.
const JPEGProgressiveWidth = 320

// jpegBackground is what transparent pixels become in a JPEG, which has no
// alpha: white, as in a cover's LQIP and dominant colour (Meta).
var jpegBackground = vips.Color{R: 255, G: 255, B: 255}

// encodeJPEG flattens alpha onto jpegBackground and writes a JPEG with
// optimised Huffman tables, progressive from JPEGProgressiveWidth. The
// mozjpeg-only settings (trellis quantisation, overshoot deringing, scan
// optimisation, quant tables) are left off: Debian's libvips links
// libjpeg-turbo, which has none of them (doc.go).
func (e engine) encodeJPEG(img *vips.ImageRef) ([]byte, error) {
	if img.HasAlpha() {
		if img.Bands() < 3 { // grey and alpha: the background has three bands
			if err := img.ToColorSpace(vips.InterpretationSRGB); err != nil {
				return nil, vipsFailed("colourspace srgb", err)
			}
		}
		if err := img.Flatten(&jpegBackground); err != nil {
			return nil, vipsFailed("flatten", err)
		}
	}
	p := vips.NewJpegExportParams()
	p.Quality = e.cfg.JPEGQuality
	p.OptimizeCoding = true
	p.Interlace = img.Width() >= JPEGProgressiveWidth
	p.StripMetadata = true
	buf, _, err := img.ExportJpeg(p)
	return buf, err
}

// vipsFailed wraps a govips error in ErrRenderFailed, keeping libvips'
// message but not the Go stack trace govips appends to it.
func vipsFailed(op string, err error) error {
	msg, _, _ := strings.Cut(err.Error(), "\nStack:")
	return fmt.Errorf("%s: %w: %w", op, ErrRenderFailed, errors.New(strings.TrimSpace(msg)))
}
