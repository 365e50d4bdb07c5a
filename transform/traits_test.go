package transform

import (
	"math"
	"testing"

	"github.com/bookcovers/image-worker/internal/hostile"
)

// TestCheckTraits: Check decodes once and reports the Traits of the
// original's pixels: a flat picture has no deviation, every real cover
// varies by tens of levels, and the dominant colour and the blurhash are
// the ones Meta computes from the same original.
func TestCheckTraits(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	cases := []struct {
		name   string
		src    []byte
		minDev float64 // the deviation is at least this
		maxDev float64 // and at most this
	}{
		{"flat grey 300x450 PNG", hostile.EncodePNG(hostile.Flat(300, 450, 128)), 0, 0.01},
		{"flat grey 300x450 JPEG", hostile.EncodeJPEG(hostile.Flat(300, 450, 200), 50), 0, 1},
		{"no-image picture", hostile.EncodePNG(hostile.NoImagePicture(300, 450)), 20, 60},
		{"photo-1600x2400-baseline.jpg", testdata(t, "photo-1600x2400-baseline.jpg"), 30, 128},
		{"cover-320x480-palette-trns.png", testdata(t, "cover-320x480-palette-trns.png"), 30, 128},
		{"cover-50x75-tiny.jpg", testdata(t, "cover-50x75-tiny.jpg"), 30, 128},
		{"panorama-4272x356.jpg", testdata(t, "panorama-4272x356.jpg"), 30, 128},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := r.Check(t.Context(), c.src)
			if err != nil {
				t.Fatalf("Check(%d bytes) = %v; want it accepted", len(c.src), err)
			}
			if got.Traits == nil {
				t.Fatalf("Check(%d bytes) returned no Traits", len(c.src))
			}
			if d := got.Traits.Deviation; d < c.minDev || d > c.maxDev {
				t.Errorf("Check: Deviation = %.2f; want %.2f..%.2f", d, c.minDev, c.maxDev)
			}
			meta, err := r.Meta(t.Context(), c.src)
			if err != nil {
				t.Fatalf("Meta: %v", err)
			}
			if got.Traits.DominantColor != meta.DominantColor || got.Traits.BlurHash != meta.BlurHash {
				t.Errorf("Check: dominant colour %s, blurhash %s; want Meta's %s, %s",
					got.Traits.DominantColor, got.Traits.BlurHash, meta.DominantColor, meta.BlurHash)
			}
		})
	}
}

// TestDifferenceHashOfCopies: copies of one picture rescaled and saved
// again in another format land within a few bits of it; real covers of
// the test corpus are far from it and from each other.
func TestDifferenceHashOfCopies(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	hash := func(t *testing.T, src []byte) uint64 {
		t.Helper()
		c, err := r.Check(t.Context(), src)
		if err != nil || c.Traits == nil {
			t.Fatalf("Check(%d bytes) = %+v, %v; want Traits", len(src), c, err)
		}
		return c.Traits.DHash
	}
	ref := hash(t, hostile.EncodePNG(hostile.NoImagePicture(300, 450)))
	copies := []struct {
		name string
		src  []byte
	}{
		{"the same PNG", hostile.EncodePNG(hostile.NoImagePicture(300, 450))},
		{"JPEG q60 at 120x180", hostile.EncodeJPEG(hostile.NoImagePicture(120, 180), 60)},
		{"JPEG q40 at 800x1200", hostile.EncodeJPEG(hostile.NoImagePicture(800, 1200), 40)},
		{"PNG at 64x96", hostile.EncodePNG(hostile.NoImagePicture(64, 96))},
	}
	for _, c := range copies {
		if d := HashDistance(ref, hash(t, c.src)); d > 5 {
			t.Errorf("%s: distance %d from the reference; want at most 5", c.name, d)
		}
	}
	covers := []string{"photo-1600x2400-baseline.jpg", "cover-320x480-palette-trns.png", "cover-1200x1800.avif",
		"panorama-4272x356.jpg", "cover-800x1200-alpha.png", "photo-1200x1800-exif-gps-xmp-iptc.jpg"}
	var hashes []uint64
	for _, name := range covers {
		h := hash(t, testdata(t, name))
		if d := HashDistance(ref, h); d < 16 {
			t.Errorf("%s: distance %d from the no-image picture; want at least 16", name, d)
		}
		hashes = append(hashes, h)
	}
	for i := range hashes {
		for j := i + 1; j < len(hashes); j++ {
			if d := HashDistance(hashes[i], hashes[j]); d < 16 {
				t.Errorf("%s and %s: distance %d; want at least 16 between different pictures", covers[i], covers[j], d)
			}
		}
	}
}

// TestDeviation: the pure function, on known pixels.
func TestDeviation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		rgb  []byte
		want float64
	}{
		{"no pixels", nil, 0},
		{"one colour", []byte{10, 200, 30, 10, 200, 30, 10, 200, 30}, 0},
		{"black and white", []byte{0, 0, 0, 255, 255, 255}, 127.5},
		{"one channel varies", []byte{0, 0, 0, 0, 0, 90}, math.Sqrt(45 * 45 / 3.0)},
	}
	for _, c := range cases {
		if got := Deviation(c.rgb); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s: Deviation = %v; want %v", c.name, got, c.want)
		}
	}
}

// TestDifferenceHashBits: a short buffer, an empty size and a flat
// picture hash to 0; a picture that brightens left to right sets every bit,
// its mirror image none.
func TestDifferenceHashBits(t *testing.T) {
	t.Parallel()
	if h := DifferenceHash([]byte{1, 2}, 4, 4); h != 0 {
		t.Errorf("DifferenceHash(short buffer) = %x; want 0", h)
	}
	if h := DifferenceHash(nil, 0, 0); h != 0 {
		t.Errorf("DifferenceHash(0x0) = %x; want 0", h)
	}
	const w, h = 36, 48
	flat, ramp, mirror := make([]byte, 0, w*h*3), make([]byte, 0, w*h*3), make([]byte, 0, w*h*3)
	for range h {
		for x := range w {
			flat = append(flat, 90, 90, 90)
			v := byte(x * 7)
			ramp = append(ramp, v, v, v)
			v = byte((w - 1 - x) * 7)
			mirror = append(mirror, v, v, v)
		}
	}
	for _, c := range []struct {
		name string
		rgb  []byte
		want uint64
	}{{"flat", flat, 0}, {"brightening rightwards", ramp, ^uint64(0)}, {"darkening rightwards", mirror, 0}} {
		if got := DifferenceHash(c.rgb, w, h); got != c.want {
			t.Errorf("DifferenceHash(%s %dx%d) = %016x; want %016x", c.name, w, h, got, c.want)
		}
	}
}
