package main

// The metrics of serve: covers_build_info and the process-wide switch of
// HELP and TYPE lines; proxy serves every component's set on the internal
// /metrics, one group per family. The whole list is docs/metrics.md.

import (
	"fmt"
	"strings"

	"github.com/VictoriaMetrics/metrics"
)

// exposeMetricMetadata turns on the "# HELP" and "# TYPE" lines of every
// metric family on /metrics. It is VictoriaMetrics/metrics' process-wide
// switch (the library keeps it in a package variable; there is no per-Set
// option), so only cmd flips it, once, before serving. The library writes
// the HELP line without text ("# HELP covers_cache_shed_total"): the
// families are described in docs/metrics.md instead, and Prometheus takes
// the empty help as it is (TestPrometheusScrapesTheService).
func exposeMetricMetadata() { metrics.ExposeMetadata(true) }

// buildInfoSet holds covers_build_info{version,revision,go_version,libvips_version} 1,
// the build of the serving process (readBuildInfo), so dashboards can tell
// which build each replica runs.
func buildInfoSet(b buildInfo) *metrics.Set {
	set := metrics.NewSet()
	name := fmt.Sprintf(`covers_build_info{version="%s",revision="%s",go_version="%s",libvips_version="%s"}`,
		labelValue(b.Version), labelValue(b.Revision), labelValue(b.GoVersion), labelValue(b.LibvipsVersion))
	set.NewGauge(name, func() float64 { return 1 })
	return set
}

// labelValue escapes a label value as the exposition format wants it:
// backslash, double quote and line feed.
func labelValue(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
