package proxy

import (
	"errors"
	"reflect"
	"testing"
)

// TestParseCoverFastMatchesParseCover: the sig-only shortcut gives what the
// general parser gives, for the queries it takes and the ones it must not.
func TestParseCoverFastMatchesParseCover(t *testing.T) {
	h := &handlers{cfg: DefaultConfig()}
	cases := []struct{ name, file, query string }{
		{"sig only", "320.webp", "sig=3di8I4wzDtKUps9VDNsv46TSSq-g9O1vNohL1AznlSM"},
		{"empty sig", "320.webp", "sig="},
		{"escaped sig", "320.webp", "sig=abc%2Bdef"},
		{"plus in sig", "320.webp", "sig=abc+def"},
		{"semicolon", "320.webp", "sig=abc;v=1"},
		{"sig then v", "320.webp", "sig=abc&v=3f9a"},
		{"v then sig", "medium.avif", "v=3f9a1c2b7d4e&sig=DFFSkeh6rroqt9wYwVckCHLZwgjg2DtmoR8vTHgukGA"},
		{"repeated sig", "320.webp", "sig=a&sig=b"},
		{"no query", "320.webp", ""},
		{"bad size with sig", "9.webp", "sig=abc"},
		{"bad format with sig", "320.png", "sig=abc"},
		{"sig prefix only", "320.webp", "sigx=abc"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, wantErr := h.cfg.parseCover("B123", c.file, c.query)
			got, err := h.parseCoverFast("B123", c.file, c.query)
			if (err == nil) != (wantErr == nil) || err != nil && !sameSentinel(err, wantErr) {
				t.Fatalf("parseCoverFast(%q) error = %v, parseCover error = %v", c.query, err, wantErr)
			}
			if len(want.Params) == 0 {
				want.Params = nil
			}
			if len(got.Params) == 0 {
				got.Params = nil
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("parseCoverFast(%q) = %+v, parseCover = %+v", c.query, got, want)
			}
		})
	}
}

func sameSentinel(a, b error) bool {
	for _, s := range []error{errBadPath, errBadSize, errBadFormat, errBadQuery} {
		if errors.Is(a, s) != errors.Is(b, s) {
			return false
		}
	}
	return true
}
