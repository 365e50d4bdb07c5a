package signing

import (
	"net/url"
	"testing"
)

// vectorKeyHex is the key of the scheme's published test vectors.
const vectorKeyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// vectors are the scheme's published test vectors: frontends check their
// implementation against the same table.
var vectors = []struct {
	name, path, query, sig string
}{
	{"no params", "/covers/B123/320.webp", "", "3di8I4wzDtKUps9VDNsv46TSSq-g9O1vNohL1AznlSM"},
	{"version", "/covers/B123/medium.avif", "v=3f9a1c2b7d4e", "DFFSkeh6rroqt9wYwVckCHLZwgjg2DtmoR8vTHgukGA"},
	{"expiry and version", "/covers/B123/320x480.webp", "exp=1893456000&v=3f9a1c2b7d4e", "BOtkfzNf-KHKp-fbS75IiQOW4EahyFKi8hJjWbFEBKk"},
}

// testKey returns a 32-byte key whose bytes start at first.
func testKey(first byte) []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = first + byte(i)
	}
	return k
}

func vectorKey() []byte { return testKey(0) }

func newTestSigner(t testing.TB, cfg Config) *Signer {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%d keys, disabled=%v) = %v, want no error", len(cfg.Keys), cfg.Disabled, err)
	}
	return s
}

func mustQuery(t testing.TB, raw string) url.Values {
	t.Helper()
	q, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatalf("ParseQuery(%q) = %v", raw, err)
	}
	return q
}
