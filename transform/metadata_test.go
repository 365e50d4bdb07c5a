package transform

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// riff assembles a WebP container from chunks (fourcc, payload).
func riff(chunks ...[2]string) []byte {
	b := []byte("RIFF\x00\x00\x00\x00WEBP")
	for _, c := range chunks {
		b = append(b, c[0]...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(c[1])))
		b = append(b, c[1]...)
		if len(c[1])%2 == 1 {
			b = append(b, 0)
		}
	}
	binary.LittleEndian.PutUint32(b[4:8], uint32(len(b)-8))
	return b
}

func TestStripWebPMetadata(t *testing.T) {
	t.Parallel()
	vp8x := func(flags byte) string { return string([]byte{flags, 0, 0, 0, 9, 0, 0, 9, 0, 0}) }
	tests := []struct {
		name    string
		in      []byte
		want    []byte
		wantErr bool
	}{
		{"exif and xmp removed, flags cleared, alpha and icc kept",
			riff([2]string{"VP8X", vp8x(0x20 | 0x10 | 0x08 | 0x04)}, [2]string{"ICCP", "icc"}, [2]string{"ALPH", "a"},
				[2]string{"VP8 ", "data"}, [2]string{"EXIF", "Exif\x00\x00GPS"}, [2]string{"XMP ", "<x:xmpmeta/>"}),
			riff([2]string{"VP8X", vp8x(0x20 | 0x10)}, [2]string{"ICCP", "icc"}, [2]string{"ALPH", "a"}, [2]string{"VP8 ", "data"}),
			false},
		{"nothing to strip is returned unchanged",
			riff([2]string{"VP8 ", "data"}), riff([2]string{"VP8 ", "data"}), false},
		{"not webp", []byte("RIFF\x00\x00\x00\x00WAVEfmt "), nil, true},
		{"chunk overruns the file", append(riff([2]string{"VP8 ", "data"}), 'E', 'X', 'I', 'F', 99, 0, 0, 0), nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := stripWebPMetadata(tc.in)
			if (err != nil) != tc.wantErr || !bytes.Equal(got, tc.want) {
				t.Fatalf("stripWebPMetadata(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}
