package systemtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/internal/loadloop"
)

// The CDN-edge tests run Debian's nginx on deploy/nginx/cdn.conf, rewritten
// only where the file says "per deployment", in front of the real binary.

// TestEdgeConfigRewrite checks, without nginx, that the shipped cdn.conf
// keeps the caching rules the edge tests rely on and that the per-deployment
// rewrite finds exactly what it replaces.
func TestEdgeConfigRewrite(t *testing.T) {
	src, err := os.ReadFile(cdnConfPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"proxy_cache_key $scheme$proxy_host$request_uri$covers_origin_key;",
		"proxy_ignore_headers Vary;",
		"proxy_set_header Origin $covers_origin;",
		"proxy_cache_lock on;",
		"proxy_cache_revalidate on;",
		"proxy_cache_background_update on;",
		"proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;",
		"add_header X-Cache-Status $upstream_cache_status always;",
		"proxy_set_header X-Request-Id $covers_request_id;",
	} {
		if !strings.Contains(string(src), want) {
			t.Errorf("cdn.conf lacks %q", want)
		}
	}
	if regexp.MustCompile(`(?m)^\s*proxy_cache_valid[^;]*\b(200|any)\b`).Match(src) {
		t.Errorf("cdn.conf sets proxy_cache_valid for 200/any: freshness must come from the origin's Cache-Control")
	}
	cases := []struct {
		name    string
		src     string
		wantErr bool
	}{
		{"shipped file", string(src), false},
		{"listen port drifted", strings.Replace(string(src), "listen 8080;", "listen 80;", 1), true},
		{"cache path drifted", strings.Replace(string(src), "/var/cache/nginx/covers ", "/srv/covers ", 1), true},
		{"replica renamed", strings.ReplaceAll(string(src), "image-worker-", "worker-"), true},
		{"host name left elsewhere", string(src) + "\n# proxy_pass http://image-worker-9:8000;\n", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conf, err := edgeConfig(c.src, "127.0.0.1:1", "127.0.0.1:2", "/tmp/x")
			if (err != nil) != c.wantErr {
				t.Fatalf("edgeConfig error = %v, want error %v", err, c.wantErr)
			}
			if err == nil && (strings.Count(conf, "server 127.0.0.1:1 ") != 1 || !strings.Contains(conf, "listen 127.0.0.1:2;") || !strings.Contains(conf, "proxy_cache_path /tmp/x ")) {
				t.Errorf("rewritten conf lacks the test values:\n%s", conf)
			}
		})
	}
}

// TestEdgeNginxCachesCovers runs nginx on cdn.conf in front of the real
// binary and counts, at the origin, what the edge lets through.
func TestEdgeNginxCachesCovers(t *testing.T) {
	t.Parallel()
	origin, e, version := startBehindEdge(t, "EDGE1", map[string]string{"PLACEHOLDERS": "false"})
	signer := signerOf(t, testKeyHex)
	signed := func(pathAndQuery string) string {
		u, err := signer.SignedURL(pathAndQuery)
		if err != nil {
			t.Fatalf("SignedURL(%q): %v", pathAndQuery, err)
		}
		return u
	}
	origin200 := func() float64 { return origin.Metric(t, `covers_http_requests_total{route="covers",status="200"}`) }
	renders := func() float64 { return origin.Metric(t, `covers_transform_renders_total{format="webp",result="ok"}`) }

	t.Run("second request is a HIT and does not reach the origin", func(t *testing.T) {
		u := signed("/covers/EDGE1/320.webp")
		before := origin200()
		first := e.mustGet(t, u, nil)
		wantCover(t, "first GET", first, 320, 480)
		second := e.mustGet(t, u, map[string]string{"X-Request-Id": "edge-second-1"})
		wantCover(t, "second GET", second, 320, 480)
		if got := [2]string{first.header.Get("X-Cache-Status"), second.header.Get("X-Cache-Status")}; got != [2]string{"MISS", "HIT"} {
			t.Errorf("X-Cache-Status of two GETs = %q, want [MISS HIT]", got)
		}
		if got := origin200() - before; got != 1 {
			t.Errorf("two GETs of one URL reached the origin %v times, want 1", got)
		}
		if cc := second.header.Get("Cache-Control"); cc != "public, max-age=86400, stale-while-revalidate=3600" {
			t.Errorf("HIT Cache-Control = %q, want the origin's", cc)
		}
		if id := second.header.Get("X-Request-Id"); id != "edge-second-1" {
			t.Errorf("HIT X-Request-Id = %q, want the caller's edge-second-1 (not the cached one)", id)
		}
		if id := first.header.Get("X-Request-Id"); id == "" || id == "edge-second-1" {
			t.Errorf("MISS X-Request-Id = %q, want one made by the edge", id)
		}
		head, err := e.get(http.MethodHead, u, nil)
		if err != nil || head.status != 200 || len(head.body) != 0 || head.header.Get("X-Cache-Status") != "HIT" || head.header.Get("Content-Type") != "image/webp" {
			t.Errorf("HEAD = %d %q (%d body bytes, %v), want a 200 image/webp HIT without body", head.status, head.header.Get("X-Cache-Status"), len(head.body), err)
		}
		cond := e.mustGet(t, u, map[string]string{"If-None-Match": first.header.Get("ETag")})
		if cond.status != http.StatusNotModified || first.header.Get("ETag") == "" {
			t.Errorf("GET with If-None-Match %q = %d, want 304 from the edge", first.header.Get("ETag"), cond.status)
		}
		if got := origin200() - before; got != 1 {
			t.Errorf("after HEAD and a conditional GET the origin saw %v requests, want still 1", got)
		}
	})

	t.Run("100 concurrent first requests reach the origin once", func(t *testing.T) {
		u := signed("/covers/EDGE1/480.webp")
		before, rendersBefore := origin200(), renders()
		const n = 100
		results, errs := make([]edgeResponse, n), make([]error, n)
		loadloop.Run(loadloop.Config{Workers: n, Each: 1}, func(c loadloop.Call) string { // released together
			results[c.Worker], errs[c.Worker] = e.get(http.MethodGet, u, nil)
			return ""
		})
		statuses := map[string]int{}
		for i := range n {
			if errs[i] != nil || results[i].status != 200 {
				t.Errorf("request %d = %d, %v; want 200", i, results[i].status, errs[i])
			}
			statuses[results[i].header.Get("X-Cache-Status")]++
		}
		wantCover(t, "stampede GET", results[n-1], 480, 720)
		if got := origin200() - before; got != 1 {
			t.Errorf("%d concurrent GETs reached the origin %v times, want 1 (X-Cache-Status counts %v)", n, got, statuses)
		}
		if got := renders() - rendersBefore; got != 1 {
			t.Errorf("%d concurrent GETs rendered %v times, want 1", n, got)
		}
		if statuses["MISS"] != 1 || statuses["HIT"] != n-1 {
			t.Errorf("X-Cache-Status counts = %v, want 1 MISS and %d HIT", statuses, n-1)
		}
	})

	t.Run("a versioned URL stays cached and immutable", func(t *testing.T) {
		u := signed("/covers/EDGE1/640.webp?v=" + version)
		before := origin200()
		for i := range 5 {
			r := e.mustGet(t, u, nil)
			wantCover(t, fmt.Sprintf("GET %d of ?v=", i+1), r, 640, 960)
			want := "HIT"
			if i == 0 {
				want = "MISS"
			}
			if got := r.header.Get("X-Cache-Status"); got != want {
				t.Errorf("GET %d of ?v= X-Cache-Status = %q, want %s", i+1, got, want)
			}
			if cc := r.header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
				t.Errorf("GET %d of ?v= Cache-Control = %q, want the origin's immutable", i+1, cc)
			}
		}
		if got := origin200() - before; got != 1 {
			t.Errorf("5 GETs of a versioned URL reached the origin %v times, want 1", got)
		}
	})

	t.Run("errors are not cached", func(t *testing.T) {
		cases := []struct {
			name, url string
			status    int
			cache     string // X-Cache-Status
		}{
			{"bad signature", "/covers/EDGE1/320.webp?sig=" + signerOf(t, strings.Repeat("cd", 32)).Sign("/covers/EDGE1/320.webp", nil), http.StatusForbidden, "MISS"},
			{"unknown book without placeholders", signed("/covers/NOBOOK/320.webp"), http.StatusNotFound, "MISS"},
			{"expired URL", signed("/covers/EDGE1/320.webp?exp=1"), http.StatusGone, "BYPASS"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				key := "covers " + strconv.Itoa(c.status)
				before := originRequests(t, origin)[key]
				for i := range 2 {
					r := e.mustGet(t, c.url, nil)
					if r.status != c.status || r.header.Get("X-Cache-Status") != c.cache || r.header.Get("Cache-Control") != "no-store" {
						t.Errorf("GET %d = %d X-Cache-Status %q Cache-Control %q, want %d %s no-store", i+1, r.status, r.header.Get("X-Cache-Status"), r.header.Get("Cache-Control"), c.status, c.cache)
					}
				}
				if got := originRequests(t, origin)[key] - before; got != 2 {
					t.Errorf("two GETs answered %d reached the origin %v times, want 2 (errors must not be cached)", c.status, got)
				}
			})
		}
	})

	t.Run("a burst of errors waits at most the lock timeout", func(t *testing.T) {
		// Errors are not cached, so the waiters of proxy_cache_lock take the
		// lock in turn; cdn.conf's 2s lock timeout bounds how long they wait.
		u := signed("/covers/NOBOOK2/320.webp")
		before := originRequests(t, origin)["covers 404"]
		const n = 30
		slowest := make([]time.Duration, n)
		loadloop.Run(loadloop.Config{Workers: n, Each: 1}, func(c loadloop.Call) string {
			start := time.Now()
			r, err := e.get(http.MethodGet, u, nil)
			slowest[c.Worker] = time.Since(start)
			if err != nil || r.status != http.StatusNotFound {
				t.Errorf("burst request %d = %d, %v; want 404", c.Worker, r.status, err)
			}
			return ""
		})
		if m := slices.Max(slowest); m > 4*time.Second {
			t.Errorf("slowest of %d concurrent 404s took %v, want under 4s (lock timeout 2s)", n, m)
		}
		if got := originRequests(t, origin)["covers 404"] - before; got != n {
			t.Errorf("%d concurrent 404s reached the origin %v times, want %d (errors must not be cached)", n, got, n)
		}
	})

	t.Run("expiring URLs are not stored at the edge", func(t *testing.T) {
		u := signed("/covers/EDGE1/320.webp?exp=" + strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
		before := origin200()
		for i := range 2 {
			r := e.mustGet(t, u, nil)
			wantCover(t, fmt.Sprintf("GET %d with exp", i+1), r, 320, 480)
			if s, cc := r.header.Get("X-Cache-Status"), r.header.Get("Cache-Control"); s != "BYPASS" || !strings.HasPrefix(cc, "public, max-age=") || strings.Contains(cc, "immutable") {
				t.Errorf("GET %d with exp: X-Cache-Status %q Cache-Control %q, want BYPASS and the origin's capped max-age", i+1, s, cc)
			}
		}
		if got := origin200() - before; got != 2 {
			t.Errorf("two GETs of an expiring URL reached the origin %v times, want 2", got)
		}
	})

	t.Run("only covers and health face the edge", func(t *testing.T) {
		cases := []struct {
			name, method, path string
			status             int
			reachesOrigin      bool
		}{
			{"health passes uncached", http.MethodGet, "/health", 200, true},
			{"process is private", http.MethodPost, "/process", 404, false},
			{"jobs are private", http.MethodGet, "/jobs/x", 404, false},
			{"metrics are private", http.MethodGet, "/metrics", 404, false},
			{"peer protocol is private", http.MethodGet, "/_groupcache/covers/x", 404, false},
			{"purge is private", http.MethodDelete, "/covers/EDGE1", 405, false},
			{"no POST to covers", http.MethodPost, "/covers/EDGE1/320.webp", 405, false},
			{"CORS preflights pass uncached", http.MethodOptions, "/covers/EDGE1/320.webp", 204, true},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := originRequests(t, origin)
				r, err := e.get(c.method, c.path, nil)
				if err != nil || r.status != c.status || r.header.Get("X-Cache-Status") != "" {
					t.Errorf("%s %s = %d X-Cache-Status %q (%v), want %d and no cache status", c.method, c.path, r.status, r.header.Get("X-Cache-Status"), err, c.status)
				}
				after := originRequests(t, origin)
				reached := routeTotal(after, "")-routeTotal(before, "")+routeTotal(after, "health")-routeTotal(before, "health") > 0
				if reached != c.reachesOrigin {
					t.Errorf("%s %s reached the origin = %v, want %v", c.method, c.path, reached, c.reachesOrigin)
				}
			})
		}
	})

	t.Run("non-canonical spellings are refused before any render", func(t *testing.T) {
		// The signature covers the decoded path and the parsed query, the edge
		// keys on the raw URI: each spelling below verifies, and each would be
		// another edge entry and another render. small (160) is asked for by
		// no other subtest, so a render counted here would be one of them.
		u := signed("/covers/EDGE1/small.webp")
		_, q, _ := strings.Cut(u, "?")
		u160 := signed("/covers/EDGE1/160.webp")
		_, q160, _ := strings.Cut(u160, "?")
		variants := []struct{ name, url string }{
			{"trailing &", u + "&"},
			{"trailing &&", u + "&&"},
			{"leading &", "/covers/EDGE1/small.webp?&" + q},
			{"percent-encoded preset", "/covers/EDGE1/%73mall.webp?" + q},
			{"percent-encoded width", "/covers/EDGE1/%31%36%30.webp?" + q160},
			{"escaped parameter name", "/covers/EDGE1/small.webp?%73ig=" + strings.TrimPrefix(q, "sig=")},
			{"double slash", "//covers/EDGE1/small.webp?" + q},
			{"trailing slash", "/covers/EDGE1/small.webp/?" + q},
		}
		rendersBefore := renders()
		for _, v := range variants {
			t.Run(v.name, func(t *testing.T) {
				before := originRequests(t, origin)
				for i := range 2 {
					r := e.mustGet(t, v.url, nil)
					var body struct {
						Error struct{ Code string } `json:"error"`
					}
					_ = json.Unmarshal(r.body, &body)
					if r.status != http.StatusBadRequest || body.Error.Code != "non_canonical_url" || r.header.Get("Cache-Control") != "no-store" || r.header.Get("X-Cache-Status") != "MISS" {
						t.Errorf("GET %d = %d %q X-Cache-Status %q Cache-Control %q, want 400 non_canonical_url MISS no-store", i+1, r.status, body.Error.Code, r.header.Get("X-Cache-Status"), r.header.Get("Cache-Control"))
					}
				}
				after := originRequests(t, origin)
				if got := after["covers 400"] + after["not_found 400"] - before["covers 400"] - before["not_found 400"]; got != 2 {
					t.Errorf("two GETs reached the origin as 400 %v times, want 2 (errors are not cached)", got)
				}
				if got := routeTotal(after, "") - routeTotal(before, ""); got != 2 {
					t.Errorf("two GETs made %v origin requests, want 2", got)
				}
			})
		}
		if got := renders() - rendersBefore; got != 0 {
			t.Errorf("%d non-canonical spellings, each asked twice, rendered %v times, want 0", len(variants), got)
		}
		wantCover(t, "GET of the canonical URL", e.mustGet(t, u, nil), 160, 240)
		if got := renders() - rendersBefore; got != 1 {
			t.Errorf("the canonical URL after them rendered %v times, want 1", got)
		}
	})

	// The ratio counts covers served (200 and 304 at the edge) against the
	// origin's 200 and 304 answers; the error cases above are left out, as
	// they are uncacheable by design.
	served := originRequests(t, origin)
	requests, originHits := e.covers.Load(), served["covers 200"]+served["covers 304"]
	ratio := 1 - originHits/float64(requests)
	t.Logf("edge: %d covers served, %.0f of them from the origin, hit ratio %.3f", requests, originHits, ratio)
	fmt.Printf("edge: %d requests, %.0f origin hits, hit ratio %.3f\n", requests, originHits, ratio)
}

// TestEdgeNginxRevalidatesAndServesStale gives the origin COVER_MAX_AGE=1s:
// an expired entry is revalidated with its ETag (the origin answers 304, no
// new 200), and once the origin is killed the edge still serves the cover.
func TestEdgeNginxRevalidatesAndServesStale(t *testing.T) {
	t.Parallel()
	origin, e, _ := startBehindEdge(t, "EDGE2", map[string]string{"COVER_MAX_AGE": "1s"})
	signer := signerOf(t, testKeyHex)
	u, err := signer.SignedURL("/covers/EDGE2/320.webp")
	if err != nil {
		t.Fatal(err)
	}
	stale := map[string]bool{"STALE": true, "UPDATING": true}

	first := e.mustGet(t, u, nil)
	wantCover(t, "first GET", first, 320, 480)
	if cc := first.header.Get("Cache-Control"); cc != "public, max-age=1, stale-while-revalidate=3600" {
		t.Fatalf("Cache-Control = %q, want max-age=1 from COVER_MAX_AGE=1s", cc)
	}
	time.Sleep(2500 * time.Millisecond) // max-age=1 has passed whatever the clock's second boundary
	expired := e.mustGet(t, u, nil)
	wantCover(t, "GET after max-age", expired, 320, 480)
	if s := expired.header.Get("X-Cache-Status"); !stale[s] {
		t.Errorf("GET after max-age X-Cache-Status = %q, want STALE or UPDATING (served while revalidating)", s)
	}
	deadline := time.Now().Add(10 * time.Second)
	for originRequests(t, origin)["covers 304"] == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := originRequests(t, origin); got["covers 304"] != 1 || got["covers 200"] != 1 {
		t.Errorf("origin answered %v 304 and %v 200, want one 304 (If-None-Match revalidation) and the first 200 only", got["covers 304"], got["covers 200"])
	}

	origin.Kill()
	time.Sleep(2500 * time.Millisecond)
	for i := range 3 {
		r := e.mustGet(t, u, nil)
		wantCover(t, fmt.Sprintf("GET %d with the origin down", i+1), r, 320, 480)
		if s := r.header.Get("X-Cache-Status"); !stale[s] {
			t.Errorf("GET %d with the origin down X-Cache-Status = %q, want STALE or UPDATING", i+1, s)
		}
	}
	other, err := signer.SignedURL("/covers/EDGE2/480.webp")
	if err != nil {
		t.Fatal(err)
	}
	if r := e.mustGet(t, other, nil); r.status != http.StatusBadGateway {
		t.Errorf("uncached URL with the origin down = %d %q, want 502", r.status, r.header.Get("X-Cache-Status"))
	}
}
