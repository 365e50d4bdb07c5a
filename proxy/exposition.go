package proxy

// The internal /metrics: the components' expositions, regrouped so that
// each metric family is one group with its HELP and TYPE lines once.

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"
)

// metricsHandler serves what expose writes (every component's metrics
// set, in the Prometheus text format), one group per family
// (writeFamilies).
func metricsHandler(expose func(io.Writer)) httprouter.Handle {
	return func(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
		var buf bytes.Buffer
		expose(&buf)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		writeFamilies(w, buf.Bytes())
	}
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
