package signing

import (
	"net/url"
	"testing"
	"time"
)

func BenchmarkVerify(b *testing.B) {
	v := vectors[2]
	params, err := url.ParseQuery(v.query)
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name string
		keys [][]byte
		sig  string
	}{
		{"1key", [][]byte{vectorKey()}, v.sig},
		{"2keys_match_second", [][]byte{testKey(64), vectorKey()}, v.sig},
		{"2keys_no_match", [][]byte{testKey(64), testKey(128)}, v.sig},
		{"malformed", [][]byte{vectorKey()}, "short"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s := newTestSigner(b, Config{Keys: c.keys})
			b.ReportAllocs()
			for b.Loop() {
				_ = s.Verify(v.path, params, c.sig)
			}
		})
	}
}

func BenchmarkSign(b *testing.B) {
	v := vectors[2]
	params, err := url.ParseQuery(v.query)
	if err != nil {
		b.Fatal(err)
	}
	s := newTestSigner(b, Config{Keys: [][]byte{vectorKey()}})
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Sign(v.path, params)
	}
}

func BenchmarkCanonical(b *testing.B) {
	cases := []struct {
		name   string
		params url.Values
	}{
		{"no_params", nil},
		{"two_params", url.Values{"v": {"3f9a1c2b7d4e"}, "exp": {"1893456000"}}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Canonical("/covers/B123/320x480.webp", c.params)
			}
		})
	}
}

func BenchmarkCheckExpiry(b *testing.B) {
	now := time.Unix(1_800_000_000, 0)
	b.ReportAllocs()
	for b.Loop() {
		_ = CheckExpiry("1893456000", now)
	}
}
