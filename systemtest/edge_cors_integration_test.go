package systemtest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/bookcovers/image-worker/internal/replica"
)

// corsMap is cdn.conf's shipped CORS origin map, which a deployment with a
// list of ALLOW_ORIGINS extends with one line per origin.
const corsMap = "map $http_origin $covers_origin {\n    default \"\";\n"

// TestEdgeCORS runs nginx on cdn.conf, its origin map listing one origin as
// deploy/nginx/README.md says, in front of a replica with that origin in
// ALLOW_ORIGINS: the listed origin gets its own cache entry with its
// Access-Control-Allow-Origin, any other Origin is stripped and shares the
// entry of requests without one (never the listed origin's header, and a
// new Origin per request is still a HIT), and preflights pass uncached.
func TestEdgeCORS(t *testing.T) {
	t.Parallel()
	const shop = "http://shop.test"
	nginxBinary(t)
	bin := replica.Build(t)
	data, _ := importLocal(t, bin, "EDGECORS")
	origin := replica.Start(t, bin, map[string]string{"DATA_DIR": data, "IMAGE_SIGNING_KEYS": testKeyHex, "KAFKA_BROKERS": "", "PRERENDER": "",
		"LOG_LEVEL": "warn", "ALLOW_ORIGINS": shop})
	e := startEdgeWith(t, origin.Public, func(conf string) (string, error) {
		if n := strings.Count(conf, corsMap); n != 1 {
			return "", fmt.Errorf("the CORS origin map %q occurs %d times, want 1", corsMap, n)
		}
		return strings.Replace(conf, corsMap, corsMap+"    \""+shop+"\" $http_origin;\n", 1), nil
	})
	u, err := signerOf(t, testKeyHex).SignedURL("/covers/EDGECORS/320.webp")
	if err != nil {
		t.Fatal(err)
	}
	origin200 := func() float64 { return origin.Metric(t, `covers_http_requests_total{route="covers",status="200"}`) }
	before := origin200()
	steps := []struct {
		name, origin, cache, acao string
	}{
		{"listed origin, first", shop, "MISS", shop},
		{"listed origin, again", shop, "HIT", shop},
		{"other origin, first", "https://evil-1.example", "MISS", ""},
		{"another origin", "https://evil-2.example", "HIT", ""},
		{"no origin", "", "HIT", ""},
		{"listed origin after the others", shop, "HIT", shop},
	}
	for _, s := range steps {
		hdr := map[string]string{}
		if s.origin != "" {
			hdr["Origin"] = s.origin
		}
		r := e.mustGet(t, u, hdr)
		wantCover(t, s.name, r, 320, 480)
		if r.header.Get("X-Cache-Status") != s.cache || r.header.Get("Access-Control-Allow-Origin") != s.acao || !strings.Contains(r.header.Get("Vary"), "Origin") {
			t.Errorf("%s: GET with Origin %q through the edge = X-Cache-Status %q, Access-Control-Allow-Origin %q, Vary %q; want %s, %q, Origin",
				s.name, s.origin, r.header.Get("X-Cache-Status"), r.header.Get("Access-Control-Allow-Origin"), r.header.Get("Vary"), s.cache, s.acao)
		}
	}
	if got := origin200() - before; got != 2 {
		t.Errorf("%d GETs with 4 different Origins reached the origin %v times, want 2 (the listed origin's entry and everyone else's)", len(steps), got)
	}
	for _, p := range []struct{ origin, acao string }{{shop, shop}, {"https://evil-1.example", ""}} {
		r, err := e.get(http.MethodOptions, u, map[string]string{"Origin": p.origin, "Access-Control-Request-Method": "GET"})
		if err != nil || r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != p.acao || r.header.Get("X-Cache-Status") != "" {
			t.Errorf("preflight from %s through the edge = %d, Access-Control-Allow-Origin %q, X-Cache-Status %q (%v); want 204, %q, not cached",
				p.origin, r.status, r.header.Get("Access-Control-Allow-Origin"), r.header.Get("X-Cache-Status"), err, p.acao)
		}
	}
}
