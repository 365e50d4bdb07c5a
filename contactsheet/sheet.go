package contactsheet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/transform"
)

// ErrNoCover reports a book without a current cover.
var ErrNoCover = errors.New("the book has no cover")

// Preset is one COVER_SIZES entry.
type Preset struct {
	Name string
	cover.Size
}

// Presets orders presets by width, then name.
func Presets(sizes map[string]cover.Size) []Preset {
	out := make([]Preset, 0, len(sizes))
	for name, sz := range sizes {
		out = append(out, Preset{name, sz})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Width < out[j].Width || out[i].Width == out[j].Width && out[i].Name < out[j].Name
	})
	return out
}

// Source gathers the panels of a sheet: Local or Server.
type Source interface {
	// Panels returns the sheet's title and one panel per preset, in the
	// presets' order.
	Panels(ctx context.Context, bookID string, format cover.Format, presets []Preset) (title string, panels []transform.SheetPanel, err error)
}

// Sheet is what a contact sheet shows and how it is drawn.
type Sheet struct {
	BookID  string
	Format  cover.Format
	Presets []Preset
	// Scale draws the covers at this fraction of their pixel size, in
	// (0, 1]; the labels keep the real sizes.
	Scale float64
	// Palette writes an 8-bit palette PNG (much smaller; for docs).
	Palette bool
}

// Result is what Make wrote.
type Result struct {
	Width, Height int // of the sheet, in pixels
	Panels        int // presets drawn
	Bytes         int // of the PNG
}

// Make gathers the sheet's panels from src, composes them and writes the
// PNG to out atomically. libvips must be started (transform.Startup).
func Make(ctx context.Context, src Source, out string, s Sheet) (Result, error) {
	title, panels, err := src.Panels(ctx, s.BookID, s.Format, s.Presets)
	if err != nil {
		return Result{}, err
	}
	if s.Scale != 1 {
		title += fmt.Sprintf("  ·  drawn at %g%%", s.Scale*100)
	}
	png, layout, err := transform.ComposeContactSheet(title, panels, s.Scale, s.Palette)
	if err != nil {
		return Result{}, err
	}
	if err := writeFileAtomic(out, png); err != nil {
		return Result{}, err
	}
	return Result{Width: layout.Width, Height: layout.Height, Panels: len(panels), Bytes: len(png)}, nil
}

// writeFileAtomic writes data to a temporary file beside path, then renames it.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".contact-sheet-*.png")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, werr := tmp.Write(data)
	if err := errors.Join(werr, tmp.Chmod(0o644), tmp.Close()); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
