package transform

import (
	"sync"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/bookcovers/image-worker/cover"
)

// padColourOf returns the padding colour of fit outputs from the original
// src of type t: its dominant colour, the one Meta reports, computed from
// the same small sample (a second, shrink-on-load decode) on first use and
// then remembered, so a ladder computes it once and a render without a fit
// output never. With a trim box (of the dispW x dispH original) it is the
// dominant colour of the box, which is what the output shows.
func padColourOf(t SourceType, src []byte, trim cover.Rect, dispW, dispH int) func() (vips.Color, error) {
	return sync.OnceValues(func() (vips.Color, error) {
		var rgb []byte
		var err error
		if trim.IsZero() {
			_, rgb, _, _, err = loadSample(t, src)
		} else {
			rgb, err = trimmedSample(t, src, trim, dispW, dispH)
		}
		if err != nil {
			return vips.Color{}, err
		}
		c := dominantRGB(rgb)
		return vips.Color{R: c[0], G: c[1], B: c[2]}, nil
	})
}

// padFit makes a fit output (g.fit) exactly its box: img, the original
// scaled to fit inside g.width x g.height, is normalised (so the padding
// and the pixels share sRGB) and centred on the box, the rest painted with
// pad's colour, opaque. Grey images become sRGB first: the padding is a
// colour. Other outputs, and a cover that fills its box exactly (nothing to
// pad, no colour to compute), are left alone.
func padFit(img *vips.ImageRef, g geometry, pad func() (vips.Color, error)) error {
	if !g.fit || img.Width() == g.width && img.Height() == g.height {
		return nil
	}
	c, err := pad()
	if err != nil {
		return err
	}
	if err := normalise(img); err != nil {
		return err
	}
	if img.Bands() < 3 {
		if err := img.ToColorSpace(vips.InterpretationSRGB); err != nil {
			return vipsFailed("colourspace srgb", err)
		}
	}
	left, top := (g.width-img.Width())/2, (g.height-img.Height())/2
	if err := img.EmbedBackground(left, top, g.width, g.height, &c); err != nil {
		return vipsFailed("pad", err)
	}
	return nil
}
