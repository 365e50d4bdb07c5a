package systemtest

import (
	"bufio"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/internal/testenv"
)

// exposedFamily is one metric family as /metrics shows it: its TYPE and
// the label names of its samples (le excluded).
type exposedFamily struct {
	typ    string
	labels map[string]bool
}

// parseExposition reads the families of a text exposition, by their TYPE
// lines; a sample with no TYPE line before it is a family of type "".
func parseExposition(t *testing.T, r io.Reader) map[string]*exposedFamily {
	t.Helper()
	fams := map[string]*exposedFamily{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			f := strings.Fields(rest)
			if len(f) != 2 {
				t.Fatalf("malformed TYPE line %q", line)
			}
			if fams[f[0]] != nil {
				t.Errorf("second TYPE line for %s: %q", f[0], line)
				continue
			}
			fams[f[0]] = &exposedFamily{typ: f[1], labels: map[string]bool{}}
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name := line // the sample's metric name: before its labels or value
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		fam := fams[name]
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); fam == nil && ok && fams[base] != nil {
				fam = fams[base]
			}
		}
		if fam == nil {
			fam = &exposedFamily{labels: map[string]bool{}}
			fams[name] = fam
		}
		for _, l := range labelNames(line) {
			if l != "le" {
				fam.labels[l] = true
			}
		}
	}
	return fams
}

var labelPair = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"`)

// labelNames returns the label names of a sample line.
func labelNames(line string) []string {
	open := strings.IndexByte(line, '{')
	if open < 0 || open > strings.IndexByte(line, ' ') {
		return nil
	}
	var names []string
	for _, m := range labelPair.FindAllStringSubmatch(line[open:], -1) {
		names = append(names, m[1])
	}
	return names
}

// documentedFamily is one row of docs/metrics.md.
type documentedFamily struct {
	typ         string
	labels      []string
	catalogOnly bool // exists only with CATALOG_DATABASE_URL
}

var docRow = regexp.MustCompile("^\\| `(covers_[a-z0-9_]+)` \\| ([a-z]+) \\| ([^|]+) \\|")

// readMetricsDoc reads the table of docs/metrics.md.
func readMetricsDoc(t *testing.T) map[string]documentedFamily {
	t.Helper()
	b, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]documentedFamily{}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `covers_") {
			continue
		}
		m := docRow.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("docs/metrics.md: row not in the form | `name` | type | labels | ...: %q", line)
			continue
		}
		if _, dup := out[m[1]]; dup {
			t.Errorf("docs/metrics.md lists %s twice", m[1])
		}
		var labels []string
		for _, l := range strings.Split(m[3], ",") {
			if l = strings.Trim(strings.TrimSpace(l), "`"); l != "" && l != "—" {
				labels = append(labels, l)
			}
		}
		sort.Strings(labels)
		out[m[1]] = documentedFamily{typ: m[2], labels: labels, catalogOnly: strings.Contains(line, "*Only with `CATALOG_DATABASE_URL`.*")}
	}
	if len(out) == 0 {
		t.Fatal("docs/metrics.md has no metric rows")
	}
	return out
}

var metricLiteral = regexp.MustCompile("[\"`](covers_[a-z0-9_]+)")

// sourceFamilies returns the covers_* metric names that the service's Go
// code (tests and bench/ excluded) writes in string literals.
func sourceFamilies(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "bench" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range metricLiteral.FindAllSubmatch(b, -1) {
			out[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMetricsDocMatchesTheExposition runs the binary under a short mixed
// load and checks docs/metrics.md against what it exposes and what the code
// names.
func TestMetricsDocMatchesTheExposition(t *testing.T) {
	svc := startLoadedService(t)
	for range 2 {
		svc.load()
	}
	// The Kafka lag gauge and the dead letters exist once the consumer has
	// worked; wait for them rather than for a time.
	var exposed map[string]*exposedFamily
	testenv.WaitFor(t, 60*time.Second, "Kafka lag and dead letters exposed", func() (bool, string) {
		resp, err := http.Get(svc.metricsURL())
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		exposed = parseExposition(t, resp.Body)
		return exposed["covers_kafka_lag_records"] != nil && exposed["covers_kafka_dead_letters_total"] != nil,
			"lag or dead letters missing"
	})
	doc := readMetricsDoc(t)
	src := sourceFamilies(t)

	var names []string
	for name := range exposed {
		if strings.HasPrefix(name, "covers_") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		e := exposed[name]
		d, ok := doc[name]
		if !ok {
			t.Errorf("/metrics exposes %s (%s, labels %v), docs/metrics.md does not list it", name, e.typ, keys(e.labels))
			continue
		}
		if e.typ != d.typ {
			t.Errorf("%s: /metrics TYPE %q, docs/metrics.md %q", name, e.typ, d.typ)
		}
		if got := keys(e.labels); !slices.Equal(got, d.labels) {
			t.Errorf("%s: /metrics labels %v, docs/metrics.md %v", name, got, d.labels)
		}
	}
	for name, d := range doc {
		if _, ok := exposed[name]; !ok && !d.catalogOnly {
			t.Errorf("docs/metrics.md lists %s; the service with Kafka, peers and a load does not expose it", name)
		}
		if !src[name] {
			t.Errorf("docs/metrics.md lists %s, which no Go file of the service names", name)
		}
	}
	for name := range src {
		if _, ok := doc[name]; !ok {
			t.Errorf("the code names %s, docs/metrics.md does not list it", name)
		}
	}
	if len(names) < 60 {
		t.Errorf("only %d covers_* families exposed after the load, want the service's whole set (60+): %v", len(names), names)
	}
	t.Logf("%d covers_* families exposed, %d documented, %d named in the code", len(names), len(doc), len(src))
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
