package contactsheet

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/transform"
)

func TestPresets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		sizes map[string]cover.Size
		want  []string
	}{
		{"by width", map[string]cover.Size{"big": {Width: 300}, "tiny": {Width: 40}, "mid": {Width: 120}}, []string{"tiny", "mid", "big"}},
		{"equal widths by name", map[string]cover.Size{"b": {Width: 96}, "a": {Width: 96, Height: 96}, "c": {Width: 50}}, []string{"c", "a", "b"}},
		{"none", nil, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := []string{}
			for _, p := range Presets(tc.sizes) {
				got = append(got, p.Name)
				if p.Size != tc.sizes[p.Name] {
					t.Errorf("preset %s has size %+v, want %+v", p.Name, p.Size, tc.sizes[p.Name])
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Presets(%v) = %v, want %v", tc.sizes, got, tc.want)
			}
		})
	}
}

// pngOf encodes a flat w×h image of c.
func pngOf(t *testing.T, w, h int, c color.RGBA) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// fixedSource answers Panels with what it holds and records the title
// asked for.
type fixedSource struct {
	title  string
	panels []transform.SheetPanel
	err    error
	asked  []Preset
}

func (s *fixedSource) Panels(_ context.Context, _ string, _ cover.Format, presets []Preset) (string, []transform.SheetPanel, error) {
	s.asked = presets
	return s.title, s.panels, s.err
}

// tempFiles lists what is in dir besides want.
func tempFiles(t *testing.T, dir, want string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.Name() != want {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestMake(t *testing.T) {
	t.Parallel()
	panels := []transform.SheetPanel{
		{Name: "thumb", Data: pngOf(t, 40, 60, color.RGBA{200, 30, 30, 255})},
		{Name: "small", Data: pngOf(t, 80, 120, color.RGBA{30, 30, 200, 255})},
	}
	presets := Presets(map[string]cover.Size{"thumb": {Width: 40}, "small": {Width: 80}})
	for _, tc := range []struct {
		name    string
		scale   float64
		palette bool
	}{{"full size", 1, false}, {"half size, palette", 0.5, true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			out := filepath.Join(dir, "sheet.png")
			if err := os.WriteFile(out, []byte("an older sheet"), 0o600); err != nil {
				t.Fatal(err)
			}
			src := &fixedSource{title: "B1", panels: panels}
			res, err := Make(context.Background(), src, out, Sheet{BookID: "B1", Format: cover.WebP, Presets: presets, Scale: tc.scale, Palette: tc.palette})
			if err != nil {
				t.Fatalf("Make: %v", err)
			}
			if !slices.Equal(src.asked, presets) {
				t.Errorf("the source was asked for %v, want %v", src.asked, presets)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("the sheet is not a PNG: %v", err)
			}
			if got := img.Bounds(); got.Dx() != res.Width || got.Dy() != res.Height || res.Panels != 2 || res.Bytes != len(b) {
				t.Errorf("Make = %+v, the file is %dx%d and %d bytes; want them to agree, with 2 panels", res, got.Dx(), got.Dy(), len(b))
			}
			if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o644 {
				t.Errorf("the sheet's mode is %v (%v), want 0644", st.Mode().Perm(), err)
			}
			if left := tempFiles(t, dir, "sheet.png"); len(left) != 0 {
				t.Errorf("files left beside the sheet: %v", left)
			}
		})
	}
}

// TestMakeLeavesNoPartialSheet: when gathering, composing or writing
// fails, the target keeps what it held and no temporary file is left.
func TestMakeLeavesNoPartialSheet(t *testing.T) {
	t.Parallel()
	errGather := errors.New("gather failed")
	tests := []struct {
		name string
		src  *fixedSource
		out  func(dir string) string
		want string
	}{
		{"the source fails", &fixedSource{err: errGather}, func(dir string) string { return filepath.Join(dir, "sheet.png") }, "gather failed"},
		{"no presets", &fixedSource{}, func(dir string) string { return filepath.Join(dir, "sheet.png") }, "no presets"},
		{"a panel that is no image", &fixedSource{title: "B1", panels: []transform.SheetPanel{{Name: "thumb", Data: []byte("not an image")}}},
			func(dir string) string { return filepath.Join(dir, "sheet.png") }, "decode preset thumb"},
		{"no such directory", &fixedSource{title: "B1", panels: []transform.SheetPanel{{Name: "thumb", Data: pngOf(t, 20, 30, color.RGBA{0, 0, 0, 255})}}},
			func(dir string) string { return filepath.Join(dir, "missing", "sheet.png") }, "write "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			keep := filepath.Join(dir, "sheet.png")
			if err := os.WriteFile(keep, []byte("an older sheet"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Make(context.Background(), tc.src, tc.out(dir), Sheet{BookID: "B1", Format: cover.WebP, Scale: 1})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Make = %v, want an error mentioning %q", err, tc.want)
			}
			if b, _ := os.ReadFile(keep); string(b) != "an older sheet" {
				t.Errorf("the existing sheet now holds %q, want it untouched", b)
			}
			if left := tempFiles(t, dir, "sheet.png"); len(left) != 0 {
				t.Errorf("files left beside the sheet: %v", left)
			}
		})
	}
}
