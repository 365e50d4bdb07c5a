package contactsheet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
)

// manifestMap is Manifests over a map; a missing book is cache.ErrNotFound.
type manifestMap map[string]cover.Manifest

func (m manifestMap) Load(_ context.Context, bookID string) (cover.Manifest, error) {
	if mf, ok := m[bookID]; ok {
		return mf, nil
	}
	return cover.Manifest{}, fmt.Errorf("load manifest %s: %w", bookID, cache.ErrNotFound)
}

func TestLocal(t *testing.T) {
	t.Parallel()
	manifests := manifestMap{"B1": {BookID: "B1", Version: "3f9a1c2b7d4e", ContentType: "image/jpeg", Width: 1600, Height: 2400}}
	var keys []cover.VariantKey
	fill := func(_ context.Context, key cover.VariantKey) ([]byte, error) {
		keys = append(keys, key)
		return []byte("variant " + key.String()), nil
	}
	presets := Presets(map[string]cover.Size{"thumb": {Width: 96}, "box": {Width: 200, Height: 200, Fit: true}})
	title, panels, err := Local{Manifests: manifests, Fill: fill}.Panels(context.Background(), "B1", cover.AVIF, presets)
	if err != nil {
		t.Fatalf("Panels: %v", err)
	}
	want := []cover.VariantKey{
		{BookID: "B1", Version: "3f9a1c2b7d4e", Width: 96, Format: "avif"},
		{BookID: "B1", Version: "3f9a1c2b7d4e", Width: 200, Height: 200, Fit: true, Format: "avif"},
	}
	if len(keys) != len(want) || keys[0] != want[0] || keys[1] != want[1] {
		t.Errorf("filled %v, want %v (the current version, each preset's size, the format)", keys, want)
	}
	if len(panels) != 2 || panels[0].Name != "thumb" || string(panels[0].Data) != "variant "+want[0].String() || panels[1].Name != "box" {
		t.Errorf("panels %+v, want thumb then box with the filled bytes", panels)
	}
	if wantTitle := "B1  ·  version 3f9a1c2b7d4e  ·  original 1600×2400 image/jpeg  ·  avif"; title != wantTitle {
		t.Errorf("title %q, want %q", title, wantTitle)
	}
}

func TestLocalRefuses(t *testing.T) {
	t.Parallel()
	errRender := errors.New("render failed")
	errStore := errors.New("store down")
	manifests := manifestMap{"B1": {BookID: "B1", Version: "v1"}}
	presets := Presets(map[string]cover.Size{"thumb": {Width: 96}})
	tests := []struct {
		name      string
		manifests Manifests
		book      string
		fillErr   error
		want      error
		text      string
	}{
		{"a book without a cover", manifests, "NO-SUCH-BOOK", nil, ErrNoCover, "book NO-SUCH-BOOK"},
		{"the manifest cannot be read", failingManifests{errStore}, "B1", nil, errStore, "contact sheet: "},
		{"a render fails", manifests, "B1", errRender, errRender, "preset thumb"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fill := func(context.Context, cover.VariantKey) ([]byte, error) { return []byte("x"), tc.fillErr }
			_, panels, err := Local{Manifests: tc.manifests, Fill: fill}.Panels(context.Background(), tc.book, cover.WebP, presets)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) || panels != nil {
				t.Errorf("Panels = %d panels, %v; want none and %v mentioning %q", len(panels), err, tc.want, tc.text)
			}
		})
	}
}

// failingManifests fails every Load with err.
type failingManifests struct{ err error }

func (f failingManifests) Load(context.Context, string) (cover.Manifest, error) {
	return cover.Manifest{}, f.err
}

// TestLocalTrimmedContent: the panels of a cover stored by content with a
// trim box are filled by content key, cropped to the box, their sizes
// clamped to it like the cover path's.
func TestLocalTrimmedContent(t *testing.T) {
	t.Parallel()
	content := cover.ContentSum([]byte("scan"))
	box := cover.Rect{Left: 40, Top: 100, Width: 400, Height: 600}
	manifests := manifestMap{"S1": {BookID: "S1", Version: cover.VersionOf(content), Content: content, Trim: box, ContentType: "image/png", Width: 480, Height: 800}}
	var keys []cover.VariantKey
	fill := func(_ context.Context, key cover.VariantKey) ([]byte, error) {
		keys = append(keys, key)
		return []byte("x"), nil
	}
	presets := Presets(map[string]cover.Size{"large": {Width: 640}})
	if _, _, err := (Local{Manifests: manifests, Fill: fill}).Panels(context.Background(), "S1", cover.WebP, presets); err != nil {
		t.Fatal(err)
	}
	want := cover.VariantKey{BookID: "S1", Version: cover.VersionOf(content), Content: content, Trim: box, Width: 400, Format: "webp"}
	if len(keys) != 1 || keys[0] != want {
		t.Errorf("filled %v, want %v (by content, the trim box, 640 clamped to the box's 400)", keys, want)
	}
}
