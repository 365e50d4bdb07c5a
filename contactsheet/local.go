package contactsheet

import (
	"context"
	"errors"
	"fmt"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/transform"
)

// Manifests reads a book's current cover (cache.Manifests); a book without
// one is cache.ErrNotFound.
type Manifests interface {
	Load(ctx context.Context, bookID string) (cover.Manifest, error)
}

// Fill renders a variant: the variant cache's fill on a miss
// (cache.FillFunc), which cmd wires to the renderer.
type Fill func(ctx context.Context, key cover.VariantKey) ([]byte, error)

// Local renders each preset in this process from the stored original of
// the book's current version (cropped to its trim box, like every render
// of it), with the fill the variant cache uses.
type Local struct {
	Manifests Manifests
	Fill      Fill
}

// Panels renders the presets of the book's current cover; the title names
// its version and its original.
func (l Local) Panels(ctx context.Context, bookID string, format cover.Format, presets []Preset) (string, []transform.SheetPanel, error) {
	m, err := l.Manifests.Load(ctx, bookID)
	if errors.Is(err, cache.ErrNotFound) {
		return "", nil, fmt.Errorf("contact sheet: book %s: %w in this store; warm it first (POST /process, image-worker import or backfill)", bookID, ErrNoCover)
	}
	if err != nil {
		return "", nil, fmt.Errorf("contact sheet: %w", err)
	}
	panels := make([]transform.SheetPanel, 0, len(presets))
	for _, preset := range presets {
		key := m.Variant(preset.Width, preset.Height, preset.Fit, string(format)) // by content and trim box when the manifest has them
		b, err := l.Fill(ctx, key)
		if err != nil {
			return "", nil, fmt.Errorf("contact sheet: preset %s: %w", preset.Name, err)
		}
		panels = append(panels, transform.SheetPanel{Name: preset.Name, Data: b})
	}
	title := fmt.Sprintf("%s  ·  version %s  ·  original %d×%d %s  ·  %s", bookID, m.Version, m.Width, m.Height, m.ContentType, format)
	return title, panels, nil
}
