package main

import (
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"
)

// TestPrometheusScrapesTheService: a real Prometheus (Debian's) scrapes the
// binary every second while a mixed load runs; through its HTTP API the
// p99 of the request and render histograms is a finite number, the build
// is in covers_build_info, the target is up with no scrape error and the
// TYPE lines reached Prometheus' metadata.
func TestPrometheusScrapesTheService(t *testing.T) {
	requireTool(t, "prometheus")
	svc := startLoadedService(t)
	prom := startPrometheus(t, []string{svc.rep.internal})
	svc.keepLoading(t, 300*time.Millisecond)

	finite := func(expr string) {
		t.Helper()
		var last string
		waitFor(t, 60*time.Second, expr+" is a finite number", func() (bool, string) {
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
	b := readBuildInfo() // this test binary's Go and libvips are the service's
	m := info[0].Metric
	if m["go_version"] != runtime.Version() || m["libvips_version"] != b.LibvipsVersion || m["version"] == "" || m["revision"] == "" || info[0].value() != 1 {
		t.Errorf("covers_build_info = %v %v, want go_version %s, libvips_version %s, a version and a revision, value 1",
			m, info[0].value(), runtime.Version(), b.LibvipsVersion)
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
}
