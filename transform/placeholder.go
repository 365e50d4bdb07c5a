package transform

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"

	"github.com/davidbyttow/govips/v2/vips"
)

// Placeholder renders a generated cover for a book whose original is missing:
// a muted background whose hue comes from a hash of seed (so one book always
// gets the same colour), a darker band across the lower third and a thin
// lighter band near the top, like a plain cloth binding. The size is Width x
// Height, or Width x Width*3/2 when Height is 0 (Enlarge does not apply:
// there is no original). It goes through the render gate but is counted in
// covers_transform_placeholders_total, not in Renders.
func (r *Renderer) Placeholder(ctx context.Context, seed string, req Request) (Result, error) {
	if err := req.validate(); err != nil {
		return Result{}, fmt.Errorf("transform placeholder: %w", err)
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
	resp, out, err := r.pool.call(ctx, workerRequest{Op: opPlaceholder, Seed: seed, Req: Request{Width: w, Height: h, Format: req.Format}}, nil)
	if err != nil {
		return Result{}, fmt.Errorf("transform placeholder %dx%d: %w", w, h, err)
	}
	return Result{Bytes: out, Width: resp.Width, Height: resp.Height, Format: req.Format, ContentType: req.Format.ContentType()}, nil
}

// placeholder draws and encodes a w x h placeholder (in a render worker).
func (e engine) placeholder(seed string, w, h int, f Format) (Result, error) {
	img, err := drawPlaceholder(seed, w, h)
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
func drawPlaceholder(seed string, w, h int) (*vips.ImageRef, error) {
	bg, band, stripe := seedColours(seed)
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

// seedColours derives a muted background, a darker band and a lighter
// stripe of the same hue from an FNV-1a hash of seed.
func seedColours(seed string) (bg [3]uint8, band, stripe vips.ColorRGBA) {
	f := fnv.New64a()
	f.Write([]byte(seed))
	sum := f.Sum64()
	hue := float64(sum%360) / 360
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
