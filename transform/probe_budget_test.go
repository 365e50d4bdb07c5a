package transform

import (
	"errors"
	"testing"

	"github.com/bookcovers/image-worker/internal/hostile"
)

// TestProbeDecodeBudget: the pixel limit is also a budget of decoded bytes
// (DecodedBytesPerPixel*maxPixels), so a format that holds more per pixel
// gets fewer pixels: a 16-bit RGBA PNG half, a progressive JPEG whose
// decoder buffers 2-byte coefficients of every component less.
func TestProbeDecodeBudget(t *testing.T) {
	t.Parallel()
	const limit = 1_000_000
	tests := []struct {
		name    string
		data    []byte
		bpp     int
		wantErr error
	}{
		{"8-bit RGBA png at the pixel limit", hostile.PNGWithIHDR(1000, 1000, 8, 6), 4, nil},
		{"16-bit RGBA png at the pixel limit", hostile.PNGWithIHDR(1000, 1000, 16, 6), 8, ErrTooManyPixels},
		{"16-bit RGBA png at half the limit", hostile.PNGWithIHDR(1000, 500, 16, 6), 8, nil},
		{"16-bit grey png", hostile.PNGWithIHDR(1000, 1000, 16, 0), 2, nil},
		{"palette png", hostile.PNGWithIHDR(1000, 1000, 8, 3), 4, nil},
		{"baseline RGB jpeg at the limit", jpegSOF(0xC0, 1000, 1000, 3), 3, nil},
		{"progressive RGB jpeg at the limit", jpegSOF(0xC2, 1000, 1000, 3), 6, ErrTooManyPixels},
		{"progressive grey jpeg at the limit", jpegSOF(0xC2, 1000, 1000, 1), 2, nil},
		{"gif at the limit", hostile.GIFWithFrames(1000, 1000, hostile.GIFFrame{W: 1000, H: 1000}), 4, nil},
		{"16-bit RGBA tiff at the limit", hostile.TIFFPages([]hostile.TIFFPage{{W: 1000, H: 1000, Samples: 4, Bits: 16}}), 8, ErrTooManyPixels},
		{"8-bit RGB tiff at the limit", hostile.TIFFPages([]hostile.TIFFPage{{W: 1000, H: 1000, Samples: 3, Bits: 8}}), 3, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Probe(tc.data, limit)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Probe = %+v, %v; want %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got.BytesPerPixel != tc.bpp {
				t.Fatalf("Probe = %+v, %v; want BytesPerPixel %d", got, err, tc.bpp)
			}
		})
	}
}

// jpegSOF is a JPEG header up to a start-of-frame segment of marker sof.
func jpegSOF(sof byte, w, h, components int) []byte {
	seg := []byte{0xFF, 0xD8, 0xFF, sof, 0, byte(8 + 3*components), 8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), byte(components)}
	for c := range components {
		seg = append(seg, byte(c+1), 0x11, 0)
	}
	return seg
}
