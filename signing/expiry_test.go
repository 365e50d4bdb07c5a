package signing

import (
	"errors"
	"testing"
	"time"
)

func TestCheckExpiry(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 500_000_000)
	tests := []struct {
		name string
		exp  string
		want error
	}{
		{"no expiry", "", nil},
		{"future", "1893456000", nil},
		{"next second", "1800000001", nil},
		{"this second", "1800000000", ErrExpired},
		{"past", "1700000000", ErrExpired},
		{"zero", "0", ErrExpired},
		{"leading zeros", "0001893456000", nil},
		{"max", "4611686018427387904", nil},
		{"max plus one", "4611686018427387905", ErrBadExpiry},
		{"letters", "abc", ErrBadExpiry},
		{"negative", "-1", ErrBadExpiry},
		{"plus sign", "+5", ErrBadExpiry},
		{"overflow", "99999999999999999999999", ErrBadExpiry},
		{"uint64 wrap", "18446744073709551617", ErrBadExpiry},
		{"leading space", " 1893456000", ErrBadExpiry},
		{"trailing space", "1893456000 ", ErrBadExpiry},
		{"exponent", "1e10", ErrBadExpiry},
		{"underscore", "1_893_456_000", ErrBadExpiry},
		{"hex", "0x70", ErrBadExpiry},
		{"fraction", "1893456000.5", ErrBadExpiry},
		{"non-ascii digit", "١٨٩٣٤٥٦٠٠٠", ErrBadExpiry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := CheckExpiry(tt.exp, now)
			if !errors.Is(err, tt.want) { // errors.Is(nil, nil) is true
				t.Errorf("CheckExpiry(%q, %d) = %v, want %v", tt.exp, now.Unix(), err, tt.want)
			}
		})
	}
}

func TestWithExpiry(t *testing.T) {
	t.Parallel()
	at := time.Unix(1_893_456_000, 900_000_000)
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{"no query", "/covers/B1/320.webp", "/covers/B1/320.webp?exp=1893456000", false},
		{"with v, sorted", "/covers/B1/thumb.avif?v=3f9a1c2b7d4e", "/covers/B1/thumb.avif?exp=1893456000&v=3f9a1c2b7d4e", false},
		{"an exp replaced", "/covers/B1/320.webp?exp=1", "/covers/B1/320.webp?exp=1893456000", false},
		{"unparsable", "/covers/B1/%zz.webp", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := WithExpiry(tc.in, at)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("WithExpiry(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
	// The path it makes signs to the published vector with that expiry.
	v := vectors[2]
	path, err := WithExpiry(v.path+"?v=3f9a1c2b7d4e", at)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := newTestSigner(t, Config{Keys: [][]byte{vectorKey()}}).SignedURL(path)
	if want := v.path + "?" + v.query + "&sig=" + v.sig; signed != want || err != nil {
		t.Errorf("SignedURL(WithExpiry) = %q, %v; want the vector %q", signed, err, want)
	}
}
