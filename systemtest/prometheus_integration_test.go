package systemtest

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/internal/testenv"
	"github.com/bookcovers/image-worker/transform"
)

// TestPrometheusScrapesTheService: a real Prometheus (Debian's) scrapes the
// binary (with Kafka on a loopback kfake broker) every second while a mixed
// load runs; through its HTTP API the p99 of the request and render
// histograms is a finite number, the build is in covers_build_info, the
// target is up with no scrape error, the TYPE lines reached Prometheus'
// metadata, every alerting rule of deploy/prometheus/alerts.yaml evaluates
// without error, and every panel query of deploy/grafana/dashboard.json
// returns data.
func TestPrometheusScrapesTheService(t *testing.T) {
	requireTool(t, "prometheus")
	svc := startLoadedService(t)
	prom := startPrometheus(t, []string{svc.rep.Internal}, "../deploy/prometheus/alerts.yaml")
	svc.keepLoading(t, 300*time.Millisecond)

	finite := func(expr string) {
		t.Helper()
		var last string
		testenv.WaitFor(t, 60*time.Second, expr+" is a finite number", func() (bool, string) {
			v, err := prom.query(expr)
			if err != nil {
				return false, err.Error()
			}
			if len(v) != 1 {
				last = fmt.Sprintf("%d samples: %v", len(v), v)
				return false, last
			}
			f := v[0].value()
			last = fmt.Sprint(f)
			return !math.IsNaN(f) && !math.IsInf(f, 0) && f > 0, last
		})
		t.Logf("%s = %s", expr, last)
	}
	finite(`histogram_quantile(0.99, sum by (le) (rate(covers_http_request_duration_seconds_bucket[30s])))`)
	finite(`histogram_quantile(0.99, sum by (le) (rate(covers_transform_render_duration_seconds_bucket[30s])))`)

	info, err := prom.query(`covers_build_info`)
	if err != nil || len(info) != 1 {
		t.Fatalf("covers_build_info = %v (%v), want one series", info, err)
	}
	libvips := transform.LibvipsVersion() // this test binary's Go and libvips are the service's
	m := info[0].Metric
	if m["go_version"] != runtime.Version() || m["libvips_version"] != libvips || m["version"] == "" || m["revision"] == "" || info[0].value() != 1 {
		t.Errorf("covers_build_info = %v %v, want go_version %s, libvips_version %s, a version and a revision, value 1",
			m, info[0].value(), runtime.Version(), libvips)
	}
	t.Logf("covers_build_info: %v", m)

	var targets struct {
		ActiveTargets []struct {
			Health    string `json:"health"`
			LastError string `json:"lastError"`
			ScrapeURL string `json:"scrapeUrl"`
		} `json:"activeTargets"`
	}
	if err := prom.get("/api/v1/targets", &targets); err != nil {
		t.Fatal(err)
	}
	if len(targets.ActiveTargets) != 1 || targets.ActiveTargets[0].Health != "up" || targets.ActiveTargets[0].LastError != "" {
		t.Errorf("targets = %+v, want the service up with no scrape error", targets.ActiveTargets)
	}

	var meta map[string][]struct {
		Type string `json:"type"`
		Help string `json:"help"`
	}
	if err := prom.get("/api/v1/metadata", &meta); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"covers_http_request_duration_seconds":     "histogram",
		"covers_transform_render_duration_seconds": "histogram",
		"covers_http_requests_total":               "counter",
		"covers_transform_in_flight":               "gauge",
		"covers_build_info":                        "gauge",
		"covers_panics_total":                      "counter",
	} {
		if got := meta[name]; len(got) != 1 || got[0].Type != want {
			t.Errorf("Prometheus metadata of %s = %+v, want one entry of type %s", name, got, want)
		}
	}
	t.Logf("Prometheus metadata of covers_http_request_duration_seconds: %+v", meta["covers_http_request_duration_seconds"])

	t.Run("alert rules evaluate", func(t *testing.T) {
		var rules struct {
			Groups []struct {
				Rules []struct {
					Name      string `json:"name"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
				} `json:"rules"`
			} `json:"groups"`
		}
		testenv.WaitFor(t, 30*time.Second, "every alerting rule evaluated", func() (bool, string) {
			if err := prom.get("/api/v1/rules?type=alert", &rules); err != nil {
				return false, err.Error()
			}
			var bad []string
			n := 0
			for _, g := range rules.Groups {
				for _, r := range g.Rules {
					n++
					if r.Health != "ok" {
						bad = append(bad, r.Name+": "+r.Health+" "+r.LastError)
					}
				}
			}
			return n > 0 && len(bad) == 0, fmt.Sprintf("%d rules, not ok: %v", n, bad)
		})
	})

	t.Run("every dashboard panel returns data", func(t *testing.T) {
		exprs := dashboardQueries(t, "../deploy/grafana/dashboard.json")
		for _, q := range exprs {
			expr := strings.ReplaceAll(q.expr, "$__rate_interval", "30s")
			if strings.Contains(expr, "$") {
				t.Errorf("panel %q: query %s has a variable the test cannot fill", q.panel, q.expr)
				continue
			}
			var last string
			testenv.WaitFor(t, 60*time.Second, fmt.Sprintf("panel %q: %s returns data", q.panel, expr), func() (bool, string) {
				v, err := prom.query(expr)
				if err != nil {
					return false, err.Error()
				}
				for _, s := range v {
					if f := s.value(); !math.IsNaN(f) && !math.IsInf(f, 0) {
						last = fmt.Sprintf("%d series, e.g. %v = %v", len(v), s.Metric, f)
						return true, last
					}
				}
				return false, fmt.Sprintf("%d series, none a finite number", len(v))
			})
			t.Logf("panel %q: %s", q.panel, last)
		}
		if len(exprs) < 20 {
			t.Errorf("the dashboard has %d queries, want the whole set", len(exprs))
		}
	})
}

type panelQuery struct{ panel, expr string }

// dashboardQueries returns the query of every target of every panel of a
// Grafana dashboard (rows' nested panels included).
func dashboardQueries(t *testing.T, path string) []panelQuery {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string  `json:"title"`
		Type    string  `json:"type"`
		Panels  []panel `json:"panels"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	}
	var d struct {
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	var out []panelQuery
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				if tg.Expr == "" {
					t.Errorf("panel %q has a target without expr", p.Title)
					continue
				}
				out = append(out, panelQuery{p.Title, tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}
