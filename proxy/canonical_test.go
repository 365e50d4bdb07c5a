package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/signing"
)

// lookups is a ManifestSource and VariantSource that records every call:
// a request that reaches it has passed parsing, the canonical form and the
// signature. Its manifest is a 1600x2400 original for every book.
type lookups struct {
	manifests atomic.Int64
	mu        sync.Mutex
	keys      []cover.VariantKey
}

func (l *lookups) Current(_ context.Context, bookID string) (cover.Manifest, error) {
	l.manifests.Add(1)
	return cover.Manifest{BookID: bookID, Version: "3f9a1c2b7d4e", ContentType: "image/jpeg", Width: 1600, Height: 2400,
		UpdatedAt: time.Unix(1_790_000_000, 0)}, nil
}

func (l *lookups) GetVariant(_ context.Context, key cover.VariantKey) (cache.Variant, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.keys = append(l.keys, key)
	b := []byte("RIFF\x00\x00\x00\x00WEBPVP8 " + key.String())
	return cache.Variant{Bytes: b, Tag: cache.Tag(b)}, nil
}

func (l *lookups) Cached(cover.VariantKey) (cache.Variant, bool) { return cache.Variant{}, false }

func (l *lookups) variantKeys() []cover.VariantKey {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]cover.VariantKey(nil), l.keys...)
}

// readmeSigner is a signer with the README's test key (00 01 ... 1f),
// verification off when disabled.
func readmeSigner(tb testing.TB, disabled bool) *signing.Signer {
	tb.Helper()
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	signer, err := signing.New(signing.Config{Keys: [][]byte{key}, Disabled: disabled})
	if err != nil {
		tb.Fatal(err)
	}
	return signer
}

// newCanonicalFixture is the public handler over lookups and a real signer
// (verification off when disabled).
func newCanonicalFixture(tb testing.TB, disabled bool) (http.Handler, *lookups, *signing.Signer) {
	tb.Helper()
	signer := readmeSigner(tb, disabled)
	l := &lookups{}
	srv, err := New(DefaultConfig(), wired(Deps{Manifests: l, Variants: l, Metas: &metaSource{}, Verifier: signer, Signer: signer,
		Logger: slog.New(slog.DiscardHandler)}))
	if err != nil {
		tb.Fatal(err)
	}
	return srv.Public(), l, signer
}

// TestNonCanonicalURLs: every other spelling of a signed URL (each of which
// the signature alone would accept) is 400 non_canonical_url before any
// lookup, and the canonical spelling itself is served.
func TestNonCanonicalURLs(t *testing.T) {
	t.Parallel()
	h, _, signer := newCanonicalFixture(t, false)
	sign := func(pathAndQuery string) string {
		u, err := signer.SignedURL(pathAndQuery)
		if err != nil {
			t.Fatalf("SignedURL(%q): %v", pathAndQuery, err)
		}
		return u
	}
	plain := sign("/covers/B123/320.webp")
	_, plainQuery, _ := strings.Cut(plain, "?")
	medium := sign("/covers/B123/medium.webp")
	_, mediumQuery, _ := strings.Cut(medium, "?")
	both := sign("/covers/B123/320x480.webp?v=3f9a1c2b7d4e&exp=4102444800")
	_, bothQuery, _ := strings.Cut(both, "?")
	sig := strings.TrimPrefix(plainQuery, "sig=")
	bothSig := bothQuery[strings.Index(bothQuery, "sig="):]
	meta := sign("/covers/B123/meta.json")
	_, metaQuery, _ := strings.Cut(meta, "?")
	cases := []struct {
		name, target string
		route        string // "" for the cover route
	}{
		{"trailing &", plain + "&", ""},
		{"trailing &&", plain + "&&", ""},
		{"leading &", "/covers/B123/320.webp?&" + plainQuery, ""},
		{"empty query", "/covers/B123/320.webp?", ""},
		{"empty sig", "/covers/B123/320.webp?sig=", ""},
		{"empty exp", sign("/covers/B123/320.webp?exp="), ""},
		{"escaped path byte", "/covers/B123/%6Dedium.webp?" + mediumQuery, ""},
		{"escaped book id byte", "/covers/B%3123/320.webp?" + plainQuery, ""},
		{"escaped size digits", "/covers/B123/%33%32%30.webp?" + plainQuery, ""},
		{"lower-case escape", "/covers/B123/%6dedium.webp?" + mediumQuery, ""},
		{"escaped parameter name", "/covers/B123/320.webp?%73ig=" + sig, ""},
		{"escaped sig byte", "/covers/B123/320.webp?sig=" + sig[:10] + "%" + fmt.Sprintf("%02X", sig[10]) + sig[11:], ""},
		{"v after sig", "/covers/B123/320x480.webp?" + bothSig + "&exp=4102444800&v=3f9a1c2b7d4e", ""},
		{"v before exp", "/covers/B123/320x480.webp?v=3f9a1c2b7d4e&exp=4102444800&" + bothSig, ""},
		{"exp escaped", "/covers/B123/320x480.webp?exp=%34102444800&v=3f9a1c2b7d4e&" + bothSig, ""},
		{"trailing slash", "/covers/B123/320.webp/?" + plainQuery, "not_found"},
		{"double slash in front", "//covers/B123/320.webp?" + plainQuery, "not_found"},
		{"double slash after covers", "/covers//B123/320.webp?" + plainQuery, "not_found"},
		{"double slash before the file", "/covers/B123//320.webp?" + plainQuery, "not_found"},
		{"dot segment", "/covers/B123/./320.webp?" + plainQuery, "not_found"},
		{"dot-dot segment", "/covers/X/../B123/320.webp?" + plainQuery, "not_found"},
		{"meta.json trailing &", meta + "&", ""},
		{"meta.json escaped", "/covers/B123/meta%2Ejson?" + metaQuery, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h, l, _ := newCanonicalFixture(t, false)
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				rec := serve(h, method, c.target, nil)
				var e errorBody
				_ = json.Unmarshal(rec.Body.Bytes(), &e)
				if rec.Code != http.StatusBadRequest || method == http.MethodGet && e.Error.Code != "non_canonical_url" || rec.Header().Get("Cache-Control") != "no-store" {
					t.Errorf("%s %s = %d %q (Cache-Control %q), want 400 non_canonical_url no-store", method, c.target, rec.Code, e.Error.Code, rec.Header().Get("Cache-Control"))
				}
			}
			if n, keys := l.manifests.Load(), l.variantKeys(); n != 0 || len(keys) != 0 {
				t.Errorf("GET %s looked up %d manifests and variants %v before refusing, want none", c.target, n, keys)
			}
		})
	}
	for _, target := range []string{plain, medium, both, meta, sign("/covers/B123/large.avif?v=3f9a1c2b7d4e"), sign("/covers/b.1_-/16x16.webp?exp=4102444800")} {
		if rec := serve(h, http.MethodGet, target, nil); rec.Code != http.StatusOK {
			t.Errorf("GET %s (canonical) = %d %s, want 200", target, rec.Code, rec.Body)
		}
	}
}

// TestCoverKeyClampedToOriginal: the variant key is built from the size the
// 1600x2400 original can give, so over-wide widths and oversized boxes with
// one output share one key; sizes it can give keep theirs.
func TestCoverKeyClampedToOriginal(t *testing.T) {
	t.Parallel()
	h, l, signer := newCanonicalFixture(t, false)
	cases := []struct{ size, want string }{
		{"320", "320"}, {"1600", "1600"}, {"1601", "1600"}, {"2048", "1600"}, {"xlarge", "1280"},
		{"320x480", "320x480"}, {"1800x2048", "1600x1820"}, {"2048x2048", "1600x1600"}, {"1800x100", "1600x89"},
	}
	for _, c := range cases {
		u, err := signer.SignedURL("/covers/B123/" + c.size + ".webp")
		if err != nil {
			t.Fatal(err)
		}
		before := len(l.variantKeys())
		rec := serve(h, http.MethodGet, u, nil)
		keys := l.variantKeys()
		if rec.Code != http.StatusOK || len(keys) != before+1 {
			t.Fatalf("GET %s = %d, %d variant lookups; want 200 and 1", u, rec.Code, len(keys)-before)
		}
		if got := keys[len(keys)-1].Size(); got != c.want {
			t.Errorf("GET %s looked up variant size %s, want %s", u, got, c.want)
		}
	}
}

// FuzzCanonicalCoverURL: for any request target, a request that gets as far
// as a lookup (parsed, canonical, and with verification off so any sig
// passes) has exactly the raw path and query that signing.CanonicalURL emits
// for its parsed parts; every other request is answered 4xx without one.
func FuzzCanonicalCoverURL(f *testing.F) {
	for _, s := range []string{
		"/covers/B123/320.webp", "/covers/B123/320.webp?sig=3di8I4wzDtKUps9VDNsv46TSSq-g9O1vNohL1AznlSM",
		"/covers/B123/320x480.webp?exp=1893456000&v=3f9a1c2b7d4e&sig=BOtkfzNf-KHKp-fbS75IiQOW4EahyFKi8hJjWbFEBKk",
		"/covers/B123/320.webp?sig=x&", "/covers/B123/320.webp?sig=x&&", "/covers/NOBOOK/%6Dedium.webp?sig=x",
		"/covers/B123/medium.avif?v=3f9a1c2b7d4e", "/covers/B123/meta.json?v=a&sig=b", "/covers/B123/320.webp?",
		"//covers/B123/320.webp", "/covers/B123/320.webp/", "/covers/B123/320.webp?v=a+b", "/covers/B123/320.webp?exp=%31",
	} {
		f.Add(s)
	}
	h, l, _ := newCanonicalFixture(f, true)
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || !strings.HasPrefix(target, "/") {
			return
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL, r.RequestURI = u, target
		before := l.manifests.Load()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if l.manifests.Load() == before {
			if rec.Code < 400 || rec.Code >= 500 {
				t.Fatalf("GET %q = %d without a lookup, want a 4xx", target, rec.Code)
			}
			return
		}
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			t.Fatalf("GET %q was looked up though its query does not parse: %v", target, err)
		}
		sig := q.Get("sig")
		q.Del("sig")
		if want := signing.CanonicalURL(u.Path, q, sig); target != want {
			t.Fatalf("GET %q was looked up, but the signer's form of its parts is %q", target, want)
		}
	})
}
