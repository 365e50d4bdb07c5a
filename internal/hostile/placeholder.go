package hostile

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
)

// Publishers' "no image" pictures: originals that decode fine but are not a
// cover. Open Library answers a missing cover with 200 and a 1x1 GIF;
// retailers and Google Books answer with a picture of their own. They are
// built here with the standard library's encoders.

// TransparentGIF1x1 is a 1x1 GIF89a with one transparent pixel, the answer
// Open Library gives for a missing cover (43 bytes).
func TransparentGIF1x1() []byte {
	img := image.NewPaletted(image.Rect(0, 0, 1, 1), color.Palette{color.Transparent, color.White})
	var b bytes.Buffer
	_ = gif.Encode(&b, img, nil)
	return b.Bytes()
}

// Flat is a w x h opaque picture of a single grey level.
func Flat(w, h int, grey uint8) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = grey
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	return img
}

// NoImagePicture draws a retailer-style "no image available" picture w x h:
// a light grey card with a darker frame standing for a camera, its lens, and
// two bars standing for the words. Everything is placed in proportion to the
// size, so pictures of one aspect at different sizes are the same picture
// rescaled.
func NoImagePicture(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		fy := (float64(y) + 0.5) / float64(h)
		for x := range w {
			fx := (float64(x) + 0.5) / float64(w)
			c := color.RGBA{235, 235, 235, 255}
			switch {
			case (fx-0.5)*(fx-0.5)+(fy-0.35)*(fy-0.35)*0.44 < 0.006:
				c = color.RGBA{90, 90, 90, 255} // the lens
			case fx > 0.3 && fx < 0.7 && fy > 0.25 && fy < 0.45:
				c = color.RGBA{150, 150, 150, 255} // the camera
			case fx > 0.2 && fx < 0.8 && fy > 0.6 && fy < 0.65,
				fx > 0.3 && fx < 0.7 && fy > 0.7 && fy < 0.74:
				c = color.RGBA{120, 120, 120, 255} // "no image available"
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// EncodePNG is img as a PNG.
func EncodePNG(img image.Image) []byte {
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}

// EncodeJPEG is img as a baseline JPEG of the given quality (1-100).
func EncodeJPEG(img image.Image, quality int) []byte {
	var b bytes.Buffer
	_ = jpeg.Encode(&b, img, &jpeg.Options{Quality: quality})
	return b.Bytes()
}
