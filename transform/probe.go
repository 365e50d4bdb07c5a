package transform

import (
	"bytes"
	"fmt"
)

// SourceType is the container/codec of an original, as decided by Probe.
type SourceType string

// Source types Probe recognises.
const (
	TypeJPEG SourceType = "jpeg"
	TypePNG  SourceType = "png"
	TypeGIF  SourceType = "gif"
	TypeWebP SourceType = "webp"
	TypeAVIF SourceType = "avif"
	TypeHEIF SourceType = "heif"
	TypeTIFF SourceType = "tiff"
)

// maxFrames caps the frame/page count Probe reports; scanning stops there.
const maxFrames = 1000

// Info is what Probe learns from a header.
type Info struct {
	Type        SourceType
	ContentType string
	// Width and Height are the stored dimensions as the header declares them,
	// before any EXIF orientation (or HEIF irot) is applied.
	Width, Height int
	// Frames is the number of frames or pages (1 for still images), capped
	// at 1000.
	Frames int
	// Orientation is the EXIF orientation 1..8 (JPEG and TIFF IFD0, HEIF irot
	// mapped to its EXIF equivalent); 1 when absent or unknown.
	Orientation int
	// BytesPerPixel is what the decoder holds per pixel at worst: bands
	// times bytes per band as libvips loads them (16-bit PNG and TIFF: 2 per
	// band; palette PNG: 4; GIF, WebP, HEIF/AVIF: 4), doubled for a
	// progressive JPEG, whose decoder buffers every coefficient (2 bytes per
	// component). Width*Height*BytesPerPixel is bounded by
	// DecodedBytesPerPixel*maxPixels.
	BytesPerPixel int
}

// DecodedBytesPerPixel sets the decode budget: an original may need at
// most DecodedBytesPerPixel*maxPixels bytes of decoded pixels (8-bit RGBA
// at the pixel limit). A 16-bit RGBA PNG, 8 bytes a pixel, gets half the
// pixel limit: libvips loads an interlaced PNG whole, so that is memory a
// render really takes.
const DecodedBytesPerPixel = 4

// DisplaySize is the upright size: Width and Height swapped when the
// orientation turns the image by 90 or 270 degrees (EXIF 5..8).
func (i Info) DisplaySize() (width, height int) {
	if i.Orientation >= 5 && i.Orientation <= 8 {
		return i.Height, i.Width
	}
	return i.Width, i.Height
}

// Probe decides the type of data by its magic bytes and reads the dimensions
// from the header without decoding pixels. It is pure Go and bounded: it
// allocates nothing on success, never in proportion to the declared size, and
// reads each byte of the header structures at most once (HEIF grids, whose
// tiles are looked up by item ID, are bounded by a fixed step budget).
//
// The limits apply to what libvips' decoder will really allocate, not only to
// the headline size: every GIF frame's extent (libnsgif grows its canvas to
// the first frame), every WebP animation frame and the still bitstream behind
// a VP8X canvas, the HEIF/AVIF primary item and, for a grid or overlay, its
// output canvas and the sum of its tiles, and every page and tile of a TIFF.
// Where the header cannot tell what the decoder will do, Probe refuses
// rather than guesses.
//
// SVG is refused with ErrUnsupportedType; anything else that is not a
// recognised raster (HTML, PDF, text, an ISO-BMFF file whose major brand
// libvips' heifload does not take, empty, truncated or inconsistent headers)
// is ErrNotAnImage. A zero side is ErrNotAnImage; a side above MaxSide, or
// width*height above maxPixels, is ErrTooManyPixels. maxPixels <= 0 means no
// pixel-count limit (MaxSide still applies).
//
// Info.Width and Info.Height are the size libvips reports for the first
// frame or page (before orientation), which for a GIF may differ from its
// logical screen.
func Probe(data []byte, maxPixels int64) (Info, error) {
	var (
		info Info
		err  error
	)
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}):
		info, err = probeJPEG(data)
	case bytes.HasPrefix(data, pngMagic):
		info, err = probePNG(data, maxPixels)
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		info, err = probeGIF(data, maxPixels)
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		info, err = probeWebP(data, maxPixels)
	case len(data) >= 8 && string(data[4:8]) == "ftyp":
		info, err = probeISOBMFF(data, maxPixels)
	case bytes.HasPrefix(data, []byte("II*\x00")), bytes.HasPrefix(data, []byte("MM\x00*")):
		info, err = probeTIFF(data, maxPixels)
	case looksLikeSVG(data):
		return Info{}, fmt.Errorf("transform probe: svg: %w", ErrUnsupportedType)
	default:
		return Info{}, fmt.Errorf("transform probe: unknown signature (%d bytes): %w", len(data), ErrNotAnImage)
	}
	if err != nil {
		return Info{}, fmt.Errorf("transform probe: %w", err)
	}
	if info.Orientation < 1 || info.Orientation > 8 {
		info.Orientation = 1
	}
	if info.Frames < 1 {
		info.Frames = 1
	}
	info.ContentType = contentTypes[info.Type]
	if err := checkDims(info.Type, int64(info.Width), int64(info.Height), maxPixels); err != nil {
		return Info{}, fmt.Errorf("transform probe: %w", err)
	}
	if info.BytesPerPixel < DecodedBytesPerPixel && (info.Type == TypeGIF || info.Type == TypeWebP || info.Type == TypeAVIF || info.Type == TypeHEIF) {
		info.BytesPerPixel = DecodedBytesPerPixel // RGBA canvases, whatever the bitstream holds
	}
	info.BytesPerPixel = max(info.BytesPerPixel, 1)
	if decoded := int64(info.Width) * int64(info.Height) * int64(info.BytesPerPixel); maxPixels > 0 && decoded > DecodedBytesPerPixel*maxPixels {
		return Info{}, fmt.Errorf("transform probe: %s %dx%d at %d bytes a pixel decodes to %d bytes, budget %d: %w",
			info.Type, info.Width, info.Height, info.BytesPerPixel, decoded, DecodedBytesPerPixel*maxPixels, ErrTooManyPixels)
	}
	return info, nil
}

var contentTypes = map[SourceType]string{
	TypeJPEG: "image/jpeg",
	TypePNG:  "image/png",
	TypeGIF:  "image/gif",
	TypeWebP: "image/webp",
	TypeAVIF: "image/avif",
	TypeHEIF: "image/heif",
	TypeTIFF: "image/tiff",
}

// checkDims applies the zero check and the side and pixel-count limits to
// declared dimensions.
func checkDims(t SourceType, w, h, maxPixels int64) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%s declares %dx%d: %w", t, w, h, ErrNotAnImage)
	}
	return checkLimits(t, w, h, maxPixels)
}

// checkLimits applies only the side and pixel-count limits: an extent that
// may legitimately be empty (a GIF frame, a logical screen libnsgif ignores)
// is checked with it.
func checkLimits(t SourceType, w, h, maxPixels int64) error {
	switch {
	case w > MaxSide || h > MaxSide:
		return fmt.Errorf("%s declares %dx%d, side limit %d: %w", t, w, h, MaxSide, ErrTooManyPixels)
	case maxPixels > 0 && w*h > maxPixels:
		return fmt.Errorf("%s declares %dx%d, limit %d pixels: %w", t, w, h, maxPixels, ErrTooManyPixels)
	}
	return nil
}

// looksLikeSVG sniffs the first KiB of text for an <svg element, skipping a
// BOM, blanks, an XML declaration, comments and a doctype. HTML that merely
// embeds an <svg> is not SVG.
func looksLikeSVG(data []byte) bool {
	head := data[:min(len(data), 1024)]
	head = bytes.TrimPrefix(head, []byte("\xEF\xBB\xBF"))
	head = bytes.ToLower(bytes.TrimSpace(head))
	if !bytes.HasPrefix(head, []byte("<")) {
		return false
	}
	if bytes.HasPrefix(head, []byte("<!doctype html")) || bytes.HasPrefix(head, []byte("<html")) {
		return false
	}
	return bytes.Contains(head, []byte("<svg"))
}

// truncated and corrupt build the two header failures every parser reports.
func truncated(t SourceType, what string) error {
	return fmt.Errorf("%s: truncated %s: %w", t, what, ErrNotAnImage)
}

func corrupt(t SourceType, what string) error {
	return fmt.Errorf("%s: corrupt %s: %w", t, what, ErrNotAnImage)
}

// corruptf is corrupt with a formatted description.
func corruptf(t SourceType, format string, args ...any) error {
	return fmt.Errorf("%s: corrupt %s: %w", t, fmt.Sprintf(format, args...), ErrNotAnImage)
}
