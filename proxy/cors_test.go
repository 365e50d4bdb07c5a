package proxy

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
)

// oneVariant is a hand-written VariantSource: the same bytes for every key.
type oneVariant struct{}

var oneVariantBytes = []byte("a rendered cover")

func (oneVariant) GetVariant(context.Context, cover.VariantKey) (cache.Variant, error) {
	return cache.Variant{Bytes: oneVariantBytes, Tag: cache.Tag(oneVariantBytes)}, nil
}

func (oneVariant) Cached(cover.VariantKey) (cache.Variant, bool) { return cache.Variant{}, false }

const (
	shopOrigin  = "https://shop.example.com"
	otherOrigin = "https://evil.example.net"
)

// corsFixture is the HTTP layer with ALLOW_ORIGINS set to origins, a real
// cover (B123), placeholders and meta.json.
func corsFixture(t *testing.T, origins ...string) *metaFixture {
	t.Helper()
	cfg := DefaultConfig()
	cfg.AllowOrigins = origins
	return newMetaFixtureConfig(t, cfg, false, func(d *Deps) {
		d.Variants = oneVariant{}
		d.Placeholders = &fakePlaceholders{}
	})
}

// TestCORSHeaders: the answers of the cover and meta.json routes, 200, 304
// and errors alike, carry Access-Control-Allow-Origin for an allowed origin
// only, Vary: Origin whenever the answer depends on the origin, and nothing
// at all without ALLOW_ORIGINS.
func TestCORSHeaders(t *testing.T) {
	t.Parallel()
	list := corsFixture(t, shopOrigin, "http://127.0.0.1:8001")
	anyOrigin := corsFixture(t, AnyOrigin)
	off := corsFixture(t)
	etag := cache.Tag(oneVariantBytes)
	type want struct {
		code   int
		acao   string
		vary   []string
		expose bool
	}
	tests := []struct {
		name   string
		f      *metaFixture
		method string
		path   string
		hdr    map[string]string
		want   want
	}{
		{"allowed origin, cover 200", list, "GET", "/covers/B123/320.webp", map[string]string{"Origin": shopOrigin}, want{200, shopOrigin, []string{"Origin"}, true}},
		{"second allowed origin", list, "GET", "/covers/B123/320.avif", map[string]string{"Origin": "http://127.0.0.1:8001"}, want{200, "http://127.0.0.1:8001", []string{"Origin"}, true}},
		{"allowed origin, HEAD", list, "HEAD", "/covers/B123/320.webp", map[string]string{"Origin": shopOrigin}, want{200, shopOrigin, []string{"Origin"}, true}},
		{"allowed origin, 304", list, "GET", "/covers/B123/320.webp", map[string]string{"Origin": shopOrigin, "If-None-Match": etag}, want{304, shopOrigin, []string{"Origin"}, true}},
		{"allowed origin, meta.json", list, "GET", "/covers/B123/meta.json", map[string]string{"Origin": shopOrigin}, want{200, shopOrigin, []string{"Origin"}, true}},
		{"allowed origin, placeholder", list, "GET", "/covers/NOCOVER/320.webp", map[string]string{"Origin": shopOrigin}, want{200, shopOrigin, []string{"Origin"}, true}},
		{"allowed origin, 404 meta.json", list, "GET", "/covers/NOCOVER/meta.json", map[string]string{"Origin": shopOrigin}, want{404, shopOrigin, []string{"Origin"}, true}},
		{"allowed origin, 403 bad signature", list, "GET", "unsigned:/covers/B123/320.webp?sig=AAAA", map[string]string{"Origin": shopOrigin}, want{403, shopOrigin, []string{"Origin"}, true}},
		{"allowed origin, 400 bad size", list, "GET", "/covers/B123/9.webp", map[string]string{"Origin": shopOrigin}, want{400, shopOrigin, []string{"Origin"}, true}},
		{"other origin", list, "GET", "/covers/B123/320.webp", map[string]string{"Origin": otherOrigin}, want{200, "", []string{"Origin"}, false}},
		{"other origin, 404", list, "GET", "/covers/NOCOVER/meta.json", map[string]string{"Origin": otherOrigin}, want{404, "", []string{"Origin"}, false}},
		{"origin differing in case", list, "GET", "/covers/B123/320.webp", map[string]string{"Origin": "https://SHOP.example.com"}, want{200, "", []string{"Origin"}, false}},
		{"null origin", list, "GET", "/covers/B123/320.webp", map[string]string{"Origin": "null"}, want{200, "", []string{"Origin"}, false}},
		{"no origin", list, "GET", "/covers/B123/320.webp", nil, want{200, "", []string{"Origin"}, false}},
		{"any, with origin", anyOrigin, "GET", "/covers/B123/320.webp", map[string]string{"Origin": otherOrigin}, want{200, "*", nil, true}},
		{"any, without origin", anyOrigin, "GET", "/covers/B123/meta.json", nil, want{200, "*", nil, true}},
		{"any, 304", anyOrigin, "GET", "/covers/B123/320.webp", map[string]string{"Origin": shopOrigin, "If-None-Match": etag}, want{304, "*", nil, true}},
		{"any, 404", anyOrigin, "GET", "/covers/NOCOVER/meta.json", map[string]string{"Origin": shopOrigin}, want{404, "*", nil, true}},
		{"off", off, "GET", "/covers/B123/320.webp", map[string]string{"Origin": shopOrigin}, want{200, "", nil, false}},
		{"off, 404", off, "GET", "/covers/NOCOVER/meta.json", map[string]string{"Origin": shopOrigin}, want{404, "", nil, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := tc.path
			if p, ok := strings.CutPrefix(target, "unsigned:"); ok {
				target = p
			} else {
				target = tc.f.sign(t, target)
			}
			rec := serve(tc.f.public, tc.method, target, tc.hdr)
			h := rec.Header()
			got := want{rec.Code, h.Get("Access-Control-Allow-Origin"), h.Values("Vary"), h.Get("Access-Control-Expose-Headers") != ""}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("%s %s with %v = %d, Access-Control-Allow-Origin %q, Vary %q, Expose-Headers %t; want %d, %q, %q, %t",
					tc.method, tc.path, tc.hdr, got.code, got.acao, got.vary, got.expose, tc.want.code, tc.want.acao, tc.want.vary, tc.want.expose)
			}
			if h.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("Access-Control-Allow-Credentials = %q; want none", h.Get("Access-Control-Allow-Credentials"))
			}
		})
	}
}

// TestCORSPreflight: OPTIONS on a cover or meta.json path is 204 without a
// signature; only an allowed origin asking for GET or HEAD gets the CORS
// answer, anyone else a plain 204 that the browser then refuses.
func TestCORSPreflight(t *testing.T) {
	t.Parallel()
	list := corsFixture(t, shopOrigin)
	anyOrigin := corsFixture(t, AnyOrigin)
	off := corsFixture(t)
	pre := func(origin, method string) map[string]string {
		return map[string]string{"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": "if-none-match"}
	}
	preflightVary := []string{"Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"}
	tests := []struct {
		name     string
		f        *metaFixture
		path     string
		hdr      map[string]string
		wantACAO string
		wantVary []string
	}{
		{"allowed, cover", list, "/covers/B123/320.webp", pre(shopOrigin, "GET"), shopOrigin, preflightVary},
		{"allowed, meta.json", list, "/covers/B123/meta.json?sig=x", pre(shopOrigin, "GET"), shopOrigin, preflightVary},
		{"allowed, HEAD", list, "/covers/B123/320.webp", pre(shopOrigin, "HEAD"), shopOrigin, preflightVary},
		{"allowed, DELETE asked", list, "/covers/B123/320.webp", pre(shopOrigin, "DELETE"), "", preflightVary},
		{"other origin", list, "/covers/B123/320.webp", pre(otherOrigin, "GET"), "", preflightVary},
		{"no origin", list, "/covers/B123/meta.json", nil, "", preflightVary},
		{"any", anyOrigin, "/covers/B123/meta.json", pre(otherOrigin, "GET"), "*", nil},
		{"off", off, "/covers/B123/320.webp", pre(shopOrigin, "GET"), "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(tc.f.public, http.MethodOptions, tc.path, tc.hdr)
			h := rec.Header()
			if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 || h.Get("Allow") != "GET, HEAD, OPTIONS" ||
				h.Get("Access-Control-Allow-Origin") != tc.wantACAO || !reflect.DeepEqual(h.Values("Vary"), tc.wantVary) {
				t.Fatalf("OPTIONS %s with %v = %d %q, headers %v; want 204, no body, Allow GET, HEAD, OPTIONS, Access-Control-Allow-Origin %q, Vary %q",
					tc.path, tc.hdr, rec.Code, rec.Body.String(), h, tc.wantACAO, tc.wantVary)
			}
			allowed := tc.wantACAO != ""
			if got := h.Get("Access-Control-Allow-Methods") == "GET, HEAD" && h.Get("Access-Control-Max-Age") == "86400" &&
				strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "if-none-match"); got != allowed {
				t.Errorf("OPTIONS %s with %v: Allow-Methods %q, Max-Age %q, Allow-Headers %q; want them set: %t",
					tc.path, tc.hdr, h.Get("Access-Control-Allow-Methods"), h.Get("Access-Control-Max-Age"), h.Get("Access-Control-Allow-Headers"), allowed)
			}
		})
	}
	t.Run("not on the internal listener", func(t *testing.T) {
		rec := serve(list.internal, http.MethodOptions, "/covers/B123/320.webp", pre(shopOrigin, "GET"))
		if rec.Code != http.StatusNotFound || rec.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("OPTIONS on the internal listener = %d %v; want 404 without CORS headers", rec.Code, rec.Header())
		}
	})
}

// TestCORSVaryMerges: Vary: Origin joins what is already there (a content
// negotiation's Accept, set before or after) instead of replacing it, and
// is never added twice.
func TestCORSVaryMerges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		before []string
		add    []string
		want   []string
	}{
		{"empty", nil, []string{"Origin"}, []string{"Origin"}},
		{"after Accept", []string{"Accept"}, []string{"Origin"}, []string{"Accept", "Origin"}},
		{"Accept after Origin", []string{"Origin"}, []string{"Accept"}, []string{"Origin", "Accept"}},
		{"already listed", []string{"Accept, Origin"}, []string{"Origin"}, []string{"Accept, Origin"}},
		{"listed in another case", []string{"origin"}, []string{"Origin"}, []string{"origin"}},
		{"two lines", []string{"Accept", "Accept-Encoding"}, []string{"Origin", "Accept-Encoding"}, []string{"Accept", "Accept-Encoding", "Origin"}},
		{"star", []string{"*"}, []string{"Origin"}, []string{"*"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hd := http.Header{}
			if tc.before != nil {
				hd["Vary"] = append([]string(nil), tc.before...)
			}
			for _, a := range tc.add {
				addVary(hd, a)
			}
			if got := hd.Values("Vary"); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Vary %q, addVary %q = %q; want %q", tc.before, tc.add, got, tc.want)
			}
		})
	}
	t.Run("through the route", func(t *testing.T) {
		f := corsFixture(t, shopOrigin)
		outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Vary", "Accept") // as a negotiating middleware in front would
			f.public.ServeHTTP(w, r)
		})
		rec := serve(outer, "GET", f.sign(t, "/covers/B123/320.webp"), map[string]string{"Origin": shopOrigin})
		if got := rec.Header().Values("Vary"); !reflect.DeepEqual(got, []string{"Accept", "Origin"}) || rec.Code != 200 {
			t.Fatalf("GET with Vary: Accept set before = %d, Vary %q; want 200, [Accept Origin]", rec.Code, got)
		}
	})
}

// TestParseOrigins: ALLOW_ORIGINS takes "*" alone or origins spelled as
// browsers send them, and names the variable in every refusal.
func TestParseOrigins(t *testing.T) {
	t.Parallel()
	good := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"*", []string{"*"}},
		{" https://shop.example.com , http://127.0.0.1:8001 ", []string{"https://shop.example.com", "http://127.0.0.1:8001"}},
		{"http://[::1]:8001,https://a.example:8443", []string{"http://[::1]:8001", "https://a.example:8443"}},
	}
	for _, tc := range good {
		got, err := ParseOrigins(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseOrigins(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	bad := []struct{ in, want string }{
		{"*,https://shop.example.com", `"*" allows every origin`},
		{"https://shop.example.com/", "no path"},
		{"https://shop.example.com/app", "no path"},
		{"https://shop.example.com?x=1", "no query"},
		{"shop.example.com", "not an origin"},
		{"ftp://shop.example.com", "not an http or https origin"},
		{"https://Shop.example.com", "lowercase"},
		{"https://shop.example.com:443", "default port"},
		{"http://shop.example.com:80", "default port"},
		{"https://shop.example.com:", "default port"},
		{"https://*.example.com", "wildcard"},
		{"null", "opaque origin"},
		{"https://user@shop.example.com", "no user"},
	}
	for _, tc := range bad {
		_, err := ParseOrigins(tc.in)
		if err == nil || !strings.Contains(err.Error(), "ALLOW_ORIGINS") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseOrigins(%q) error = %v; want one naming ALLOW_ORIGINS and saying %q", tc.in, err, tc.want)
		}
		cfg := DefaultConfig()
		cfg.AllowOrigins = strings.Split(tc.in, ",")
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "ALLOW_ORIGINS") {
			t.Errorf("Config{AllowOrigins: %q}.Validate() = %v; want an error naming ALLOW_ORIGINS", cfg.AllowOrigins, err)
		}
	}
}
