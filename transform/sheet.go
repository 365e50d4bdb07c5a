package transform

import (
	"fmt"
	"html"
	"image"
	"image/color"

	"github.com/davidbyttow/govips/v2/vips"
)

// SheetPanel is one preset's encoded variant, for a contact sheet.
type SheetPanel struct {
	Name string
	Data []byte
}

// SheetLayout is where ComposeContactSheet put things, in sheet pixels.
type SheetLayout struct {
	Width, Height int
	Panels        []image.Rectangle // one per panel, in order
}

// Contact sheet geometry and colours.
const (
	sheetMargin      = 32
	sheetGap         = 32
	sheetTitleHeight = 44 // title line plus space below it
	sheetLabelGap    = 10 // between a cover's bottom and its label
	sheetLabelHeight = 36 // two label lines
	sheetMinWidth    = 640
	sheetMinSlot     = 104 // narrowest column, so every label fits at one size
)

// SheetBackground is the colour of a contact sheet behind the covers.
func SheetBackground() color.RGBA { return color.RGBA{R: 246, G: 244, B: 239, A: 255} }

// sheetInk is the colour of the sheet's text.
func sheetInk() vips.Color { return vips.Color{R: 38, G: 38, B: 38} }

// sheetBackground is SheetBackground for libvips.
func sheetBackground() *vips.Color {
	bg := SheetBackground()
	return &vips.Color{R: bg.R, G: bg.G, B: bg.B}
}

// SheetBaseline is the y of the line the covers of a sheet height pixels
// tall stand on.
func SheetBaseline(height int) int {
	return height - sheetMargin - sheetLabelHeight - sheetLabelGap
}

// SheetLabelBox is the box of the label under the cover drawn in r.
func SheetLabelBox(r image.Rectangle) image.Rectangle {
	return image.Rect(r.Min.X, r.Max.Y+sheetLabelGap, r.Min.X+max(r.Dx(), sheetMinSlot), r.Max.Y+sheetLabelGap+sheetLabelHeight)
}

// ComposeContactSheet decodes each panel (the service's own variants, WebP
// or AVIF) with libvips in this process, stands the covers
// side by side on a light background (bottom-aligned, smallest first as
// given), labels each with its preset name and pixel size, titles the sheet
// and encodes it as PNG. scale shrinks the drawn covers; the labels keep the
// variants' real sizes.
func ComposeContactSheet(title string, panels []SheetPanel, scale float64, palette bool) ([]byte, SheetLayout, error) {
	if len(panels) == 0 {
		return nil, SheetLayout{}, fmt.Errorf("contact sheet: no presets")
	}
	imgs := make([]*vips.ImageRef, 0, len(panels))
	defer func() {
		for _, img := range imgs {
			img.Close()
		}
	}()
	labels := make([]string, len(panels))
	for i, p := range panels {
		img, err := vips.NewImageFromBuffer(p.Data)
		if err != nil {
			return nil, SheetLayout{}, fmt.Errorf("contact sheet: decode preset %s: %w", p.Name, err)
		}
		imgs = append(imgs, img)
		labels[i] = fmt.Sprintf("<b>%s</b>\n%d×%d", html.EscapeString(p.Name), img.Width(), img.Height())
		if err := sheetOpaque(img, scale); err != nil {
			return nil, SheetLayout{}, fmt.Errorf("contact sheet: prepare preset %s: %w", p.Name, err)
		}
	}
	layout := planSheet(imgs)
	canvas, err := imgs[0].Copy()
	if err != nil {
		return nil, layout, fmt.Errorf("contact sheet: %w", err)
	}
	defer canvas.Close()
	r0 := layout.Panels[0]
	if err := canvas.EmbedBackground(r0.Min.X, r0.Min.Y, layout.Width, layout.Height, sheetBackground()); err != nil {
		return nil, layout, fmt.Errorf("contact sheet: canvas: %w", err)
	}
	for i, img := range imgs[1:] {
		r := layout.Panels[i+1]
		if err := canvas.Insert(img, r.Min.X, r.Min.Y, false, nil); err != nil {
			return nil, layout, fmt.Errorf("contact sheet: place preset %s: %w", panels[i+1].Name, err)
		}
	}
	if err := sheetText(canvas, html.EscapeString(title), sheetMargin, sheetMargin, layout.Width-2*sheetMargin, 22); err != nil {
		return nil, layout, err
	}
	for i, r := range layout.Panels {
		if err := sheetText(canvas, labels[i], r.Min.X, r.Max.Y+sheetLabelGap, max(r.Dx(), sheetMinSlot)+sheetGap-8, sheetLabelHeight); err != nil {
			return nil, layout, err
		}
	}
	png, _, err := canvas.ExportPng(&vips.PngExportParams{Compression: 6, Palette: palette, Quality: 90, Dither: 0.5, StripMetadata: true})
	if err != nil {
		return nil, layout, fmt.Errorf("contact sheet: encode PNG: %w", err)
	}
	return png, layout, nil
}

// sheetOpaque brings a decoded variant to 3-band 8-bit sRGB on the sheet
// background (grey covers become RGB, alpha is flattened) and scales it.
func sheetOpaque(img *vips.ImageRef, scale float64) error {
	if img.Interpretation() != vips.InterpretationSRGB {
		if err := img.ToColorSpace(vips.InterpretationSRGB); err != nil {
			return err
		}
	}
	if img.HasAlpha() {
		if err := img.Flatten(sheetBackground()); err != nil {
			return err
		}
	}
	if scale != 1 {
		if err := img.Resize(scale, vips.KernelLanczos3); err != nil {
			return err
		}
	}
	return img.Cast(vips.BandFormatUchar)
}

// planSheet puts the covers left to right, bottom-aligned on one baseline
// under the title, with room for the labels below. Each cover has a column
// at least sheetMinSlot wide.
func planSheet(imgs []*vips.ImageRef) SheetLayout {
	maxH, sumW := 0, 0
	for _, img := range imgs {
		maxH = max(maxH, img.Height())
		sumW += max(img.Width(), sheetMinSlot)
	}
	baseline := sheetMargin + sheetTitleHeight + maxH
	l := SheetLayout{
		Width:  max(sheetMinWidth, 2*sheetMargin+sumW+sheetGap*(len(imgs)-1)),
		Height: baseline + sheetLabelGap + sheetLabelHeight + sheetMargin,
	}
	x := sheetMargin
	for _, img := range imgs {
		l.Panels = append(l.Panels, image.Rect(x, baseline-img.Height(), x+img.Width(), baseline))
		x += max(img.Width(), sheetMinSlot) + sheetGap
	}
	return l
}

// sheetText writes Pango markup with libvips' text operator into the box
// at (x, y); libvips fits the text to the box height.
func sheetText(canvas *vips.ImageRef, markup string, x, y, width, height int) error {
	err := canvas.Label(&vips.LabelParams{
		Text:      markup,
		Font:      "DejaVu Sans",
		Width:     vips.ValueOf(float64(width)),
		Height:    vips.ValueOf(float64(height)),
		OffsetX:   vips.ValueOf(float64(x)),
		OffsetY:   vips.ValueOf(float64(y)),
		Opacity:   1,
		Color:     sheetInk(),
		Alignment: vips.AlignLow,
	})
	if err != nil {
		return fmt.Errorf("contact sheet: draw text: %w", err)
	}
	return nil
}
