package main

// The metrics of serve: every component's set on the internal /metrics, one
// group per family with HELP and TYPE lines, plus covers_build_info; the
// whole list, with types, labels and units, is docs/metrics.md.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
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

// writeFamilies copies an exposition to w with each metric family in one
// group, as the text format requires: a family may be written by several
// components' sets (covers_panics_total is one counter per component), and
// each set writes its own HELP and TYPE lines. The groups keep the order in
// which their families first appear; a family's HELP and TYPE lines are
// written once, before its samples.
func writeFamilies(w io.Writer, exposition []byte) {
	type family struct {
		meta    []string // HELP and TYPE lines, once each
		samples []string
	}
	var order []string
	fams := map[string]*family{}
	get := func(name string) *family {
		f, ok := fams[name]
		if !ok {
			f = &family{}
			fams[name] = f
			order = append(order, name)
		}
		return f
	}
	current := "" // the family of the last TYPE line: its samples may carry _bucket, _sum, _count
	sc := bufio.NewScanner(bytes.NewReader(exposition))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "# "); ok {
			fields := strings.Fields(rest)
			if len(fields) < 2 || (fields[0] != "HELP" && fields[0] != "TYPE") {
				continue // other comments carry nothing
			}
			current = fields[1]
			f := get(current)
			if !containsLine(f.meta, fields[0]+" ") {
				f.meta = append(f.meta, line)
			}
			continue
		}
		name := sampleName(line)
		fam := name
		if current != "" && (name == current || strings.HasPrefix(name, current+"_") && isSuffix(name[len(current):])) {
			fam = current
		} else {
			current = ""
		}
		f := get(fam)
		f.samples = append(f.samples, line)
	}
	bw := bufio.NewWriter(w)
	for _, name := range order {
		f := fams[name]
		for _, l := range f.meta {
			bw.WriteString(l)
			bw.WriteByte('\n')
		}
		for _, l := range f.samples {
			bw.WriteString(l)
			bw.WriteByte('\n')
		}
	}
	_ = bw.Flush()
}

// containsLine reports whether one of the metadata lines is of the given
// kind ("HELP " or "TYPE ").
func containsLine(meta []string, kind string) bool {
	for _, l := range meta {
		if strings.HasPrefix(l, "# "+kind) {
			return true
		}
	}
	return false
}

// isSuffix reports whether s is one of the sample suffixes of a histogram
// or summary family.
func isSuffix(s string) bool {
	switch s {
	case "_bucket", "_sum", "_count":
		return true
	}
	return false
}

// sampleName is the metric name of a sample line (before its labels or value).
func sampleName(line string) string {
	if i := strings.IndexAny(line, "{ "); i >= 0 {
		return line[:i]
	}
	return line
}
