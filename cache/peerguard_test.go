package cache

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"github.com/bookcovers/image-worker/cover"
)

const testPeerSecret = "peer-secret-0123456789abcdef"

// peerContent is a content key: the SHA-256 of "cover".
var peerContent = cover.ContentSum([]byte("cover"))

// capCheck stands in for the proxy's key check (cache cannot import proxy):
// widths and heights up to 2048, webp or avif.
func capCheck(k cover.VariantKey) error {
	if k.Width > 2048 || k.Height > 2048 || k.Format != "webp" && k.Format != "avif" {
		return fmt.Errorf("key %s: %w", k, errors.New("outside the public limits"))
	}
	return nil
}

// peerPath is how groupcache's client spells a request (the key query-escaped).
func peerPath(group, key string) string {
	return PeerBasePath + url.QueryEscape(group) + "/" + url.QueryEscape(key)
}

func TestPeerGuard(t *testing.T) {
	good := peerPath("covers", "B123/3f9a1c2b7d4e/320.webp")
	cases := []struct {
		name   string
		secret string // configured PEER_SECRET
		path   string
		hdr    []string // PeerSecretHeader values sent
		status int
	}{
		{"no secret configured", "", good, nil, 200},
		{"box", "", peerPath("covers", "B123/3f9a1c2b7d4e/200x300.avif"), nil, 200},
		{"right secret", testPeerSecret, good, []string{testPeerSecret}, 200},
		{"missing secret", testPeerSecret, good, nil, 401},
		{"empty secret", testPeerSecret, good, []string{""}, 401},
		{"secret twice", testPeerSecret, good, []string{testPeerSecret, testPeerSecret}, 401},
		{"wrong secret", testPeerSecret, good, []string{"peer-secret-0123456789abcdeX"}, 403},
		{"prefix of the secret", testPeerSecret, good, []string{testPeerSecret[:8]}, 403},
		{"secret checked before the key", testPeerSecret, peerPath("covers", "x"), nil, 401},
		{"width over the cap", "", peerPath("covers", "B123/3f9a1c2b7d4e/4096.webp"), nil, 400},
		{"box over the cap", "", peerPath("covers", "B123/3f9a1c2b7d4e/320x4800.webp"), nil, 400},
		{"unknown format", "", peerPath("covers", "B123/3f9a1c2b7d4e/320.png"), nil, 400},
		{"bad book id", "", peerPath("covers", "..%2Fetc/3f9a1c2b7d4e/320.webp"), nil, 400},
		{"leading zero", "", peerPath("covers", "B123/3f9a1c2b7d4e/0320.webp"), nil, 400},
		{"zero width", "", peerPath("covers", "B123/3f9a1c2b7d4e/0.webp"), nil, 400},
		{"not a variant key", "", peerPath("covers", "x"), nil, 400},
		{"extra segment", "", peerPath("covers", "B123/v/a/320.webp"), nil, 400},
		{"no key", "", PeerBasePath + "covers", nil, 400},
		{"no group", "", PeerBasePath + "/B123%2Fv%2F320.webp", nil, 400},
		{"content key", "", peerPath("covers", "@"+peerContent+"/320.webp"), nil, 200},
		{"content key with a trim box", "", peerPath("covers", "@"+peerContent+"/trim-10-20-300x450/200x300.avif"), nil, 200},
		{"content key over the cap", "", peerPath("covers", "@"+peerContent+"/4096.webp"), nil, 400},
		{"content key not a hash", "", peerPath("covers", "@3f9a1c2b7d4e/320.webp"), nil, 400},
		{"content key, trim box not canonical", "", peerPath("covers", "@"+peerContent+"/trim-010-20-300x450/320.webp"), nil, 400},
		{"content key, extra segment", "", peerPath("covers", "@"+peerContent+"/a/b/320.webp"), nil, 400},
		{"placeholder key", "", peerPath("covers-placeholders", "p7/320.webp"), nil, 200},
		{"placeholder box", "", peerPath("covers-placeholders", "p15/200x300.avif"), nil, 200},
		{"placeholder entry past the palette", "", peerPath("covers-placeholders", "p16/320.webp"), nil, 400},
		{"placeholder over the cap", "", peerPath("covers-placeholders", "p3/4096.webp"), nil, 400},
		{"placeholder bad format", "", peerPath("covers-placeholders", "p3/320.png"), nil, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var reached atomic.Int32
			next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { reached.Add(1) })
			set := metrics.NewSet()
			g := newPeerGuard(next, c.secret, capCheck, set)
			r := httptest.NewRequest(http.MethodGet, c.path, nil)
			for _, v := range c.hdr {
				r.Header.Add(PeerSecretHeader, v)
			}
			rec := httptest.NewRecorder()
			g.ServeHTTP(rec, r)
			if rec.Code != c.status {
				t.Errorf("GET %s with secret %q = %d %s, want %d", c.path, c.hdr, rec.Code, rec.Body, c.status)
			}
			want := int32(0)
			if c.status == 200 {
				want = 1
			}
			if reached.Load() != want {
				t.Errorf("answered %d; the pool was reached %d times, want %d", rec.Code, reached.Load(), want)
			}
			if c.secret != "" && strings.Contains(rec.Body.String(), c.secret) {
				t.Errorf("the answer %q carries the secret", rec.Body)
			}
		})
	}
}

// TestSecretTransport: the client side sends PEER_SECRET on every peer
// request, without changing the caller's request.
func TestSecretTransport(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Values(PeerSecretHeader))
	}))
	defer srv.Close()
	tr := &secretTransport{next: srv.Client().Transport, secret: testPeerSecret}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+peerPath("covers", "B1/v/320.webp"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(PeerSecretHeader, "caller-value-must-be-replaced")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v, _ := got.Load().([]string); len(v) != 1 || v[0] != testPeerSecret {
		t.Errorf("peer saw %s = %q, want exactly the secret", PeerSecretHeader, v)
	}
	if req.Header.Get(PeerSecretHeader) != "caller-value-must-be-replaced" {
		t.Error("RoundTrip modified the caller's request")
	}
}

func TestPeersConfigSecret(t *testing.T) {
	base := PeersConfig{Self: "http://10.0.0.1:8081", Refresh: 1, Timeout: 1}
	for _, c := range []struct {
		name, secret string
		ok           bool
	}{
		{"unset", "", true},
		{"long enough", testPeerSecret, true},
		{"too short", "short-secret", false},
		{"space", "REPLACE ME with openssl rand -hex 32", false},
		{"control character", "peer-secret-0123456789\n", false},
	} {
		cfg := base
		cfg.Secret = c.secret
		err := cfg.Validate()
		if (err == nil) != c.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && c.secret != "" && strings.Contains(err.Error(), c.secret) {
			t.Errorf("%s: Validate() = %q names the secret", c.name, err)
		}
	}
}

// FuzzPeerRequestKey: for any path, a key that passes is canonical (it
// re-serializes to the path's key) and within the check's limits; every
// refusal is ErrBadPeerKey; nothing panics.
func FuzzPeerRequestKey(f *testing.F) {
	for _, s := range []string{peerPath("covers", "B1/3f9a1c2b7d4e/320.webp"), PeerBasePath + "covers/B1/v/200x300.avif",
		PeerBasePath + "covers/@" + peerContent + "/320.webp", PeerBasePath + "covers/@" + peerContent + "/trim-1-2-30x40/320.webp",
		PeerBasePath + "covers/B1/v/4096.webp", PeerBasePath + "covers/../v/320.webp", PeerBasePath + "/x", "/", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		k, err := peerRequestKey(path, capCheck)
		if err != nil {
			if !errors.Is(err, ErrBadPeerKey) {
				t.Fatalf("peerRequestKey(%q) = %v, not ErrBadPeerKey", path, err)
			}
			return
		}
		if !strings.HasSuffix(path, "/"+k.String()) || capCheck(k) != nil {
			t.Fatalf("peerRequestKey(%q) accepted %+v", path, k)
		}
	})
}
