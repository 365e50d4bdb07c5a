package transform

import (
	"github.com/davidbyttow/govips/v2/vips"
)

// normalise brings a thumbnail to what every output must be: sRGB (or
// 8-bit grey), 8 bits per band, alpha kept, no ICC profile left to strip.
//
// vips_thumbnail already turns CMYK into sRGB (through the embedded profile
// or libvips' built-in CMYK fallback) but leaves RGB pixels in their
// embedded profile's space (Adobe RGB, ProPhoto). Those are transformed to
// libvips' built-in sRGB here; with embedded=TRUE an embedded profile that
// does not fit the pixels (CMYK profile left on an sRGB result) falls back
// to sRGB, which is a no-op.
func normalise(img *vips.ImageRef) error {
	if img.HasICCProfile() {
		if err := img.TransformICCProfileWithFallback("srgb", "srgb"); err != nil {
			return vipsFailed("icc transform", err)
		}
		if err := img.RemoveICCProfile(); err != nil {
			return vipsFailed("remove icc profile", err)
		}
	}
	switch img.Interpretation() {
	case vips.InterpretationSRGB, vips.InterpretationBW:
	case vips.InterpretationGrey16:
		if err := img.ToColorSpace(vips.InterpretationBW); err != nil {
			return vipsFailed("colourspace b-w", err)
		}
	default: // RGB16, CMYK, LAB, scRGB...
		if err := img.ToColorSpace(vips.InterpretationSRGB); err != nil {
			return vipsFailed("colourspace srgb", err)
		}
	}
	if img.BandFormat() != vips.BandFormatUchar {
		if err := img.Cast(vips.BandFormatUchar); err != nil {
			return vipsFailed("cast uchar", err)
		}
	}
	return nil
}
