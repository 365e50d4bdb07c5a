package main

// The metrics of serve: the process-wide switch of HELP and TYPE lines
// (covers_build_info is internal/buildinfo's); proxy serves every component's set on the internal
// /metrics, one group per family. The whole list is docs/metrics.md.

import "github.com/VictoriaMetrics/metrics"

// exposeMetricMetadata turns on the "# HELP" and "# TYPE" lines of every
// metric family on /metrics. It is VictoriaMetrics/metrics' process-wide
// switch (the library keeps it in a package variable; there is no per-Set
// option), so only cmd flips it, once, before serving. The library writes
// the HELP line without text ("# HELP covers_cache_shed_total"): the
// families are described in docs/metrics.md instead, and Prometheus takes
// the empty help as it is (TestPrometheusScrapesTheService).
func exposeMetricMetadata() { metrics.ExposeMetadata(true) }
