package main

import (
	"bytes"
	"encoding/binary"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"testing"
)

// Each book's copy of a shared picture has its own bytes and the same
// picture: the standard decoders read the JPEG and the PNG to the same
// pixels, and the AVIF's appended box is a whole top-level box.
func TestDistinctKeepsThePicture(t *testing.T) {
	for _, name := range []string{"photo-1600x2400-baseline.jpg", "cover-800x1200-alpha.png", "cover-1200x1800.avif"} {
		t.Run(name, func(t *testing.T) {
			orig, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			a, b := distinct(orig, "R1"), distinct(orig, "R2")
			if bytes.Equal(a, b) || bytes.Equal(a, orig) {
				t.Fatal("copies with different tags have the same bytes")
			}
			if !bytes.Contains(a, []byte("R1")) || len(a) <= len(orig) {
				t.Fatalf("tag not embedded: %d bytes from %d", len(a), len(orig))
			}
			if filepath.Ext(name) == ".avif" {
				box := a[len(orig):]
				if n := binary.BigEndian.Uint32(box); int(n) != len(box) || string(box[4:8]) != "free" {
					t.Fatalf("appended box %q is not one whole free box", box)
				}
				return
			}
			want, _, err := image.Decode(bytes.NewReader(orig))
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := image.Decode(bytes.NewReader(a))
			if err != nil {
				t.Fatalf("the copy does not decode: %v", err)
			}
			if got.Bounds() != want.Bounds() {
				t.Fatalf("bounds %v, want %v", got.Bounds(), want.Bounds())
			}
			for y := 0; y < want.Bounds().Dy(); y += 97 {
				for x := 0; x < want.Bounds().Dx(); x += 89 {
					if got.At(x, y) != want.At(x, y) {
						t.Fatalf("pixel (%d,%d) %v, want %v", x, y, got.At(x, y), want.At(x, y))
					}
				}
			}
		})
	}
}
