package main

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bookcovers/image-worker/contactsheet"
	"github.com/bookcovers/image-worker/internal/cli"
	"github.com/bookcovers/image-worker/transform"
)

// sheetEnv is the environment of a contact sheet on a local store in dir.
func sheetEnv(dir string, extra map[string]string) func(string) (string, bool) {
	env := map[string]string{"DATA_DIR": dir, "IMAGE_SIGNING_KEYS": testKeyHex, "KAFKA_BROKERS": "", "PRERENDER": "", "LOG_LEVEL": "error"}
	for k, v := range extra {
		env[k] = v
	}
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// decodeSheet decodes a contact sheet PNG.
func decodeSheet(t *testing.T, path string) image.Image {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode %s as PNG: %v", path, err)
	}
	return img
}

// farFromBackground reports whether a pixel is clearly not the sheet background.
func farFromBackground(img image.Image, x, y int) bool {
	r, g, b, _ := img.At(x, y).RGBA()
	d := func(v uint32, bg uint8) int { return max(int(v>>8)-int(bg), int(bg)-int(v>>8)) }
	bg := transform.SheetBackground()
	return d(r, bg.R)+d(g, bg.G)+d(b, bg.B) > 40
}

// coverRuns finds the covers standing on the sheet's baseline: runs of
// columns with non-background pixels in the band just above it.
func coverRuns(img image.Image, band int) []image.Rectangle {
	bounds := img.Bounds()
	baseline := transform.SheetBaseline(bounds.Dy())
	var runs []image.Rectangle
	start := -1
	for x := bounds.Min.X; x <= bounds.Max.X; x++ {
		content := false
		for y := baseline - band; y < baseline && x < bounds.Max.X; y++ {
			if farFromBackground(img, x, y) {
				content = true
				break
			}
		}
		switch {
		case content && start < 0:
			start = x
		case !content && start >= 0:
			runs = append(runs, image.Rect(start, baseline-band, x, baseline))
			start = -1
		}
	}
	return runs
}

// inkBelow counts dark label pixels under a cover.
func inkBelow(img image.Image, r image.Rectangle) int {
	n := 0
	box := transform.SheetLabelBox(r)
	for y := box.Min.Y; y < box.Max.Y; y++ {
		for x := r.Min.X; x < r.Min.X+60; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if (cr>>8)+(cg>>8)+(cb>>8) < 3*100 {
				n++
			}
		}
	}
	return n
}

// checkSheet asserts the sheet holds exactly the covers of wantWidths, in
// order, each labelled.
func checkSheet(t *testing.T, path string, wantWidths []int) {
	t.Helper()
	img := decodeSheet(t, path)
	sum := 0
	for _, w := range wantWidths {
		sum += w
	}
	if w := img.Bounds().Dx(); w < sum {
		t.Errorf("sheet is %d px wide, want at least the %d px of its covers", w, sum)
	}
	runs := coverRuns(img, 8)
	if len(runs) != len(wantWidths) {
		t.Fatalf("sheet %s has %d cover panels %v, want %d of widths %v", path, len(runs), runs, len(wantWidths), wantWidths)
	}
	for i, r := range runs {
		if d := r.Dx() - wantWidths[i]; d < -1 || d > 1 {
			t.Errorf("panel %d is %d px wide, want %d", i, r.Dx(), wantWidths[i])
		}
		if ink := inkBelow(img, r); ink < 20 {
			t.Errorf("panel %d has %d dark label pixels below it, want a label", i, ink)
		}
	}
}

func TestContactSheet(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		cover   string
		env     map[string]string
		flags   []string
		widths  []int
		maxSize int // bytes, 0: no bound
	}{
		{"default presets at full size", "photo-1600x2400-baseline.jpg", nil, nil, []int{96, 160, 320, 640, 1280}, 0},
		{"default presets at half scale, palette PNG as in docs/", "photo-1600x2400-baseline.jpg", nil,
			[]string{"--scale", "0.5", "--palette"}, []int{48, 80, 160, 320, 640}, 1 << 20},
		{"custom presets in AVIF", "photo-1600x2400-baseline.jpg", map[string]string{"COVER_SIZES": "big=300,tiny=40,mid=120"},
			[]string{"--format", "avif"}, []int{40, 120, 300}, 0},
		{"presets wider than the original are not enlarged", "cover-50x75-tiny.jpg", map[string]string{"COVER_SIZES": "thumb=96,small=160"},
			nil, []int{50, 50}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			lookup := sheetEnv(filepath.Join(dir, "data"), tc.env)
			cover := filepath.Join(dir, "cover.jpg")
			if err := os.WriteFile(cover, readTestdata(t, tc.cover), 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errOut lockedBuffer
			if code := run(context.Background(), []string{"import", "--book", "SHEET-1", cover}, lookup, &out, &errOut); code != 0 {
				t.Fatalf("import = %d: %s", code, errOut.String())
			}
			sheet := filepath.Join(dir, "sheet.png")
			args := append([]string{"contact-sheet", "--out", sheet}, tc.flags...)
			if code := run(context.Background(), append(args, "SHEET-1"), lookup, &out, &errOut); code != 0 {
				t.Fatalf("contact-sheet %v = %d: %s", tc.flags, code, errOut.String())
			}
			if !strings.Contains(out.String(), "wrote "+sheet) {
				t.Errorf("stdout %q does not name the sheet", out.String())
			}
			checkSheet(t, sheet, tc.widths)
			if st, err := os.Stat(sheet); err != nil || tc.maxSize > 0 && st.Size() > int64(tc.maxSize) {
				t.Errorf("sheet size %v, %v; want at most %d bytes", st.Size(), err, tc.maxSize)
			}
		})
	}
}

// TestContactSheetServer fetches the presets from a running service with
// signed URLs.
func TestContactSheetServer(t *testing.T) {
	t.Parallel()
	src := newSource(t)
	svc := startService(t, localStore(t), src, map[string]string{"COVER_SIZES": "small=160,thumb=96,medium=320"})
	svc.warm("SRV-1", src.add("/photo.jpg", readTestdata(t, "photo-1600x2400-baseline.jpg")))
	dir := t.TempDir()
	lookup := sheetEnv(filepath.Join(dir, "data"), map[string]string{"COVER_SIZES": "small=160,thumb=96,medium=320"})
	sheet := filepath.Join(dir, "srv.png")
	var out, errOut lockedBuffer
	if err := contactSheetCmd(context.Background(), []string{"--server", svc.base, "--out", sheet, "SRV-1"}, lookup, &out, &errOut); err != nil {
		t.Fatalf("contact-sheet --server: %v", err)
	}
	checkSheet(t, sheet, []int{96, 160, 320})

	err := contactSheetCmd(context.Background(), []string{"--server", svc.base, "--out", filepath.Join(dir, "none.png"), "NO-SUCH-BOOK"}, lookup, &out, &errOut)
	if !errors.Is(err, contactsheet.ErrNoCover) || !strings.Contains(err.Error(), "NO-SUCH-BOOK") {
		t.Errorf("contact-sheet --server of a missing book = %v, want ErrNoCover naming the book", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "none.png")); !os.IsNotExist(err) {
		t.Errorf("a sheet was written for a missing book (stat: %v)", err)
	}
}

func TestContactSheetRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lookup := sheetEnv(filepath.Join(dir, "data"), nil)
	cases := []struct {
		name string
		args []string
		want error
		text string
	}{
		{"missing book", []string{"--out", filepath.Join(dir, "x.png"), "NO-SUCH-BOOK"}, contactsheet.ErrNoCover, "NO-SUCH-BOOK"},
		{"no book id", nil, cli.ErrUsage, "BOOK_ID"},
		{"invalid book id", []string{"../etc"}, cli.ErrUsage, "book id"},
		{"bad format", []string{"--format", "gif", "B1"}, cli.ErrUsage, "format"},
		{"bad scale", []string{"--scale", "2", "B1"}, cli.ErrUsage, "scale"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut lockedBuffer
			err := contactSheetCmd(context.Background(), tc.args, lookup, &out, &errOut)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("contact-sheet %v = %v, want %v mentioning %q", tc.args, err, tc.want, tc.text)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "x.png")); !os.IsNotExist(err) {
		t.Errorf("a sheet was written for a missing book (stat: %v)", err)
	}
}
