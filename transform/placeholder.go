package transform

import (
	"context"
	"fmt"
	"math"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/bookcovers/image-worker/cover"
)

// PaletteSize is the number of placeholder colours. A placeholder's pixels
// depend only on its palette entry, size and format, so callers can render
// each combination once and share it between every book that maps to the
// entry (the cache picks the entry from a hash of the book id).
const PaletteSize = 16

// paletteHues are the hues (degrees) of the palette: evenly spaced around
// the wheel, started off the pure primaries so none reads as a warning
// colour at the muted saturation the placeholders use.
var paletteHues = func() [PaletteSize]float64 {
	var h [PaletteSize]float64
	for i := range h {
		h[i] = 10 + float64(i)*360/PaletteSize
	}
	return h
}()

// Placeholder renders a generated cover for a book whose original is
// missing: a muted background of palette entry entry (0..PaletteSize-1), a
// darker band across the lower third and a thin lighter band near the top,
// like a plain cloth binding. Nothing of the book is drawn, so the result
// depends only on (entry, size, format). The size is Width x Height, or
// Width x Width*3/2 when Height is 0 (Enlarge does not apply: there is no
// original). It goes through the render gate but is counted in
// covers_transform_placeholders_total (Placeholders), not in Renders.
func (r *Renderer) Placeholder(ctx context.Context, entry int, req Request) (Result, error) {
	if err := req.validate(); err != nil {
		return Result{}, fmt.Errorf("transform placeholder: %w", err)
	}
	if entry < 0 || entry >= PaletteSize {
		return Result{}, fmt.Errorf("transform placeholder: palette entry %d not in 0..%d: %w", entry, PaletteSize-1, ErrInvalidRequest)
	}
	w, h := req.Width, req.Height
	if h == 0 {
		h = max(w*3/2, 1)
	}
	if int64(w)*int64(h) > r.cfg.MaxPixels {
		return Result{}, fmt.Errorf("transform placeholder: %dx%d over %d pixels: %w", w, h, r.cfg.MaxPixels, ErrTooManyPixels)
	}
	release, err := r.gate.acquire(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("transform placeholder: %w", err)
	}
	defer release()

	r.placeholders.Inc()
	resp, out, err := r.pool.call(ctx, workerRequest{Op: opPlaceholder, Entry: entry, Req: Request{Width: w, Height: h, Format: req.Format}}, nil)
	if err != nil {
		return Result{}, fmt.Errorf("transform placeholder %dx%d: %w", w, h, err)
	}
	return Result{Bytes: out, Width: resp.Width, Height: resp.Height, Format: req.Format, ContentType: req.Format.ContentType()}, nil
}

// Placeholders is the number of placeholders that reached a render worker.
func (r *Renderer) Placeholders() uint64 { return r.placeholders.Get() }

// placeholder draws and encodes a w x h placeholder (in a render worker).
func (e engine) placeholder(entry, w, h int, f cover.Format) (Result, error) {
	if entry < 0 || entry >= PaletteSize {
		return Result{}, fmt.Errorf("placeholder: palette entry %d: %w", entry, ErrInvalidRequest)
	}
	img, err := drawPlaceholder(entry, w, h)
	if err != nil {
		return Result{}, err
	}
	defer img.Close()
	buf, err := e.encode(img, f)
	if err != nil {
		return Result{}, err
	}
	return Result{Bytes: buf, Width: w, Height: h, Format: f, ContentType: f.ContentType()}, nil
}

// drawPlaceholder builds the placeholder image in libvips.
func drawPlaceholder(entry, w, h int) (*vips.ImageRef, error) {
	bg, band, stripe := paletteColours(entry)
	img, err := vips.Black(w, h)
	if err != nil {
		return nil, vipsFailed("black", err)
	}
	ok := false
	defer func() {
		if !ok {
			img.Close()
		}
	}()
	// A one-band black image times 0 plus three constants is a three-band
	// image of the background colour.
	if err := img.Linear([]float64{0, 0, 0}, []float64{float64(bg[0]), float64(bg[1]), float64(bg[2])}); err != nil {
		return nil, vipsFailed("fill", err)
	}
	if err := img.Cast(vips.BandFormatUchar); err != nil {
		return nil, vipsFailed("cast", err)
	}
	srgb, err := img.CopyChangingInterpretation(vips.InterpretationSRGB)
	if err != nil {
		return nil, vipsFailed("interpretation", err)
	}
	img.Close()
	img = srgb
	bandTop, bandH := h*3/5, max(h/6, 1)
	if err := img.DrawRect(band, 0, bandTop, w, min(bandH, h-bandTop), true); err != nil {
		return nil, vipsFailed("draw band", err)
	}
	if stripeTop, stripeH := h/10, max(h/60, 1); stripeTop+stripeH <= h {
		if err := img.DrawRect(stripe, 0, stripeTop, w, stripeH, true); err != nil {
			return nil, vipsFailed("draw stripe", err)
		}
	}
	ok = true
	return img, nil
}

// paletteColours gives a muted background, a darker band and a lighter
// stripe of the hue of palette entry entry.
func paletteColours(entry int) (bg [3]uint8, band, stripe vips.ColorRGBA) {
	hue := paletteHues[entry] / 360
	bg = hsl(hue, 0.35, 0.55)
	d := hsl(hue, 0.40, 0.30)
	l := hsl(hue, 0.30, 0.80)
	return bg, vips.ColorRGBA{R: d[0], G: d[1], B: d[2], A: 255}, vips.ColorRGBA{R: l[0], G: l[1], B: l[2], A: 255}
}

// hsl converts hue, saturation, lightness (all 0..1) to 8-bit sRGB.
func hsl(h, s, l float64) [3]uint8 {
	c := (1 - math.Abs(2*l-1)) * s
	x := c * (1 - math.Abs(math.Mod(h*6, 2)-1))
	m := l - c/2
	var r, g, b float64
	switch int(h*6) % 6 {
	case 0:
		r, g, b = c, x, 0
	case 1:
		r, g, b = x, c, 0
	case 2:
		r, g, b = 0, c, x
	case 3:
		r, g, b = 0, x, c
	case 4:
		r, g, b = x, 0, c
	default:
		r, g, b = c, 0, x
	}
	to8 := func(v float64) uint8 { return uint8(math.Round(math.Max(0, math.Min(1, v+m)) * 255)) }
	return [3]uint8{to8(r), to8(g), to8(b)}
}
