package transform

import (
	"errors"
	"fmt"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/bookcovers/image-worker/cover"
)

// ladderOutput is one output of a ladder in a worker response: its size and
// the length of its bytes in the payload, or the error that output got.
type ladderOutput struct {
	Width   int    `json:"w,omitempty"`
	Height  int    `json:"h,omitempty"`
	Len     int    `json:"len,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// ladderOut is what the engine made of one ladder request.
type ladderOut struct {
	res Result
	err error
}

// level is one decode of a ladder, shared by the outputs grouped under it.
//   - shrink > 0: the original as its loader gives it with that
//     shrink-on-load (JPEG's DCT scaling 1, 2, 4 or 8; 1 for PNG and GIF,
//     which have none), not rotated or resized: each output is
//     vips_thumbnail_image of it with the arguments its single render
//     passes to vips_thumbnail_buffer, which runs the same steps after the
//     load (orientation, CMYK import, alpha premultiplication, resize,
//     crop), so the output is the single render's.
//   - shrink == 0: loaders that shrink on load by any factor (WebP, HEIF,
//     AVIF) or may pick a pyramid page (TIFF): the single render's own
//     thumbnail of one size, shared by that size's formats.
//   - trim set: the trimmed outputs of one box (deriveTrimmed), from the
//     original loaded at trimShrink.
type level struct {
	shrink  int
	g       geometry
	enlarge bool
	trim    cover.Rect
}

// levelOf is the decode that the output g of req shares.
func levelOf(t SourceType, dispW, dispH int, g geometry, req Request) level {
	if !req.Trim.IsZero() {
		return level{shrink: trimShrink(t, g, req), trim: req.Trim}
	}
	switch t {
	case TypeJPEG:
		return level{shrink: jpegShrink(dispW, dispH, g, req)}
	case TypePNG, TypeGIF:
		return level{shrink: 1}
	}
	return level{g: g, enlarge: req.Enlarge}
}

// jpegShrink is the shrink-on-load vips_thumbnail_buffer (libvips 8.14)
// picks for a JPEG: the shrink of the whole thumbnail (the larger axis
// ratio, the smaller one when cropping, at least 1 unless enlarging), then
// the largest DCT scale that leaves at least a factor of two to the final
// resize.
func jpegShrink(dispW, dispH int, g geometry, req Request) int {
	w, h, crop, size := thumbArgs(g, req)
	hs, vs := float64(dispW)/float64(w), float64(dispH)/float64(h)
	s := max(hs, vs)
	if crop != vips.InterestingNone {
		s = min(hs, vs)
	}
	if size == vips.SizeDown {
		s = max(s, 1)
	}
	switch {
	case s >= 16:
		return 8
	case s >= 8:
		return 4
	case s >= 4:
		return 2
	}
	return 1
}

// ladder renders every request with as few decodes as give each output
// exactly its single render's pixels: outputs that share a level (see
// level) share one decode, computed into memory once (materialise), and
// every format of one size shares that size's resize. For the default
// ladder of a JPEG (five widths in two formats) that is at most four DCT
// scales of one original instead of ten full renders.
func (e engine) ladder(t SourceType, src []byte, dispW, dispH int, reqs []Request) []ladderOut {
	out := make([]ladderOut, len(reqs))
	var order []level
	groups := map[level][]int{}
	plans := make([]geometry, len(reqs))
	pads := map[cover.Rect]func() (vips.Color, error){} // per trim box, computed once, by its first fit output
	for i, req := range reqs {
		plans[i] = plan(dispW, dispH, req)
		l := levelOf(t, dispW, dispH, plans[i], req)
		if _, ok := groups[l]; !ok {
			order = append(order, l)
		}
		groups[l] = append(groups[l], i)
	}
	for _, l := range order {
		idx := groups[l]
		base, err := e.loadLevel(t, src, l, reqs[idx[0]])
		if errors.Is(err, errNoMaterialise) || errors.Is(err, errLevelTooLarge) {
			// A govips whose images cannot be shared, or a decode too
			// large to hold in memory: one (streaming) render each.
			for _, i := range idx {
				out[i].res, out[i].err = e.render(t, src, plans[i], reqs[i])
			}
			continue
		}
		if err != nil {
			for _, i := range idx {
				out[i].err = err
			}
			continue
		}
		pad, ok := pads[l.trim]
		if !ok {
			pad = padColourOf(t, src, l.trim, dispW, dispH)
			pads[l.trim] = pad
		}
		for _, i := range idx {
			out[i].res, out[i].err = e.derive(base, l, plans[i], reqs[i], pad)
		}
		base.Close()
	}
	return out
}

// loadLevel decodes the level l and computes it into memory.
func (e engine) loadLevel(t SourceType, src []byte, l level, req Request) (*vips.ImageRef, error) {
	var (
		img *vips.ImageRef
		err error
	)
	if l.shrink == 0 {
		w, h, crop, size := thumbArgs(l.g, req)
		img, err = loadThumbnail(t, src, w, h, crop, size)
	} else {
		img, err = loadShrunk(t, src, l.shrink)
	}
	if err != nil {
		return nil, err
	}
	if n, limit := imageBytes(img), e.shareLimit(); n > limit {
		img.Close()
		return nil, fmt.Errorf("level of %d bytes over %d: %w", n, limit, errLevelTooLarge)
	}
	if err := materialise(img); err != nil {
		img.Close()
		return nil, err
	}
	return img, nil
}

// errLevelTooLarge: a shared decode would hold more memory than a ladder
// may (engine.shareLimit).
var errLevelTooLarge = errors.New("decode too large to share")

// shareLimit is the most bytes one shared decode may hold in memory: a
// quarter of the decode budget (50 MB at the default 50 MP), so that a
// worker running a ladder stays within the memory a single render of the
// largest original needs (memory_bound_test.go). A single render streams
// its decode through the resize; a shared one is held whole. A 1600x2400
// RGB cover at full size is 11.5 MB; larger levels render one by one.
func (e engine) shareLimit() int64 {
	return DecodedBytesPerPixel * e.cfg.MaxPixels / 4
}

// imageBytes is the size of img's pixels once computed.
func imageBytes(img *vips.ImageRef) int64 {
	per := int64(1)
	switch img.BandFormat() {
	case vips.BandFormatUshort, vips.BandFormatShort:
		per = 2
	case vips.BandFormatUint, vips.BandFormatInt, vips.BandFormatFloat:
		per = 4
	case vips.BandFormatDouble, vips.BandFormatComplex:
		per = 8
	case vips.BandFormatDpComplex:
		per = 16
	}
	return int64(img.Width()) * int64(img.Height()) * int64(img.Bands()) * per
}

// loadShrunk loads the first page of src with only the loader of t
// unblocked, fail on, and JPEG shrink-on-load by shrink when above 1: the
// image vips_thumbnail_buffer starts from.
func loadShrunk(t SourceType, src []byte, shrink int) (*vips.ImageRef, error) {
	p := vips.NewImportParams()
	if shrink > 1 {
		p.JpegShrinkFactor.Set(shrink)
	}
	return loadWith(t, "load", func() (*vips.ImageRef, error) { return vips.LoadImageFromBuffer(src, p) })
}

// derive makes the output g of req from the level image base, leaving base
// as it was (a trimmed level is first turned upright and cropped to its
// box, cropToTrim); pad gives the colour of a fit output's padding.
func (e engine) derive(base *vips.ImageRef, l level, g geometry, req Request, pad func() (vips.Color, error)) (Result, error) {
	img, err := base.Copy()
	if err != nil {
		return Result{}, vipsFailed("copy", err)
	}
	defer img.Close()
	if !l.trim.IsZero() {
		if err := cropToTrim(img, g, l.trim); err != nil {
			return Result{}, err
		}
	}
	if l.shrink > 0 {
		w, h, crop, size := thumbArgs(g, req)
		if err := img.ThumbnailWithSize(w, h, crop, size); err != nil {
			return Result{}, vipsFailed("thumbnail", err)
		}
	}
	if err := fitCrop(img, g); err != nil {
		return Result{}, err
	}
	if err := padFit(img, g, pad); err != nil {
		return Result{}, err
	}
	return e.finish(img, req.Format)
}

// serveLadder answers an opLadder request: one output description per
// request and their bytes concatenated in the payload. A request that fails
// validation fails alone.
func (e engine) serveLadder(info Info, src []byte, reqs []Request) (workerResponse, []byte) {
	if len(reqs) == 0 || len(reqs) > MaxLadder {
		return responseError(fmt.Errorf("ladder of %d outputs, want 1..%d: %w", len(reqs), MaxLadder, ErrInvalidRequest)), nil
	}
	valid := make([]Request, 0, len(reqs))
	idx := make([]int, 0, len(reqs))
	resp := workerResponse{Outputs: make([]ladderOutput, len(reqs))}
	dispW, dispH := info.DisplaySize()
	for i, req := range reqs {
		err := req.validate()
		if err == nil {
			err = req.validateFor(dispW, dispH)
		}
		if err != nil {
			r := responseError(err)
			resp.Outputs[i] = ladderOutput{Code: r.Code, Message: r.Message}
			continue
		}
		valid, idx = append(valid, req), append(idx, i)
	}
	var body []byte
	if len(valid) > 0 {
		for j, o := range e.ladder(info.Type, src, dispW, dispH, valid) {
			if o.err != nil {
				r := responseError(o.err)
				resp.Outputs[idx[j]] = ladderOutput{Code: r.Code, Message: r.Message}
				continue
			}
			resp.Outputs[idx[j]] = ladderOutput{Width: o.res.Width, Height: o.res.Height, Len: len(o.res.Bytes)}
			body = append(body, o.res.Bytes...)
		}
	}
	return resp, body
}
