package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// doc is one YAML document of a deployment file.
type doc struct {
	file string         // relative to deploy/
	obj  map[string]any // the decoded document
}

func (d doc) kind() string { return str(d.obj, "kind") }
func (d doc) name() string { return str(d.obj, "metadata", "name") }
func (d doc) String() string {
	return d.file + ": " + d.kind() + "/" + d.name()
}

// decodeAll decodes every document of a YAML stream; empty documents are skipped.
func decodeAll(data []byte) ([]map[string]any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []map[string]any
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if m != nil {
			out = append(out, m)
		}
	}
}

// loadDocs decodes every document of the files matching the globs (relative to deploy/).
func loadDocs(t *testing.T, globs ...string) []doc {
	t.Helper()
	var docs []doc
	for _, g := range globs {
		files, err := filepath.Glob(g)
		if err != nil {
			t.Fatalf("glob %s: %v", g, err)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatalf("read %s: %v", f, err)
			}
			objs, err := decodeAll(data)
			if err != nil {
				t.Fatalf("decode %s: %v", f, err)
			}
			if len(objs) == 0 {
				t.Errorf("%s: no YAML document", f)
			}
			for _, o := range objs {
				docs = append(docs, doc{file: filepath.ToSlash(f), obj: o})
			}
		}
	}
	return docs
}

// dig walks nested maps by key.
func dig(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func str(v any, path ...string) string {
	switch x := dig(v, path...).(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

func mapAt(v any, path ...string) map[string]any {
	m, _ := dig(v, path...).(map[string]any)
	return m
}

func listAt(v any, path ...string) []any {
	l, _ := dig(v, path...).([]any)
	return l
}

// intAt reads an integer written as a YAML number or a quoted number.
func intAt(v any, path ...string) (int, bool) {
	switch x := dig(v, path...).(type) {
	case int:
		return x, true
	case string:
		n, err := strconv.Atoi(x)
		return n, err == nil
	}
	return 0, false
}

// subset reports whether every key of sel has the same value in labels.
func subset(sel, labels map[string]any) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// readRepo reads a file of the repository (the tests run in deploy/).
func readRepo(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", rel))
	if err != nil {
		t.Fatalf("read %s: %v", rel, err)
	}
	return string(b)
}

// port returns the port of a listen address such as ":8000" or "0.0.0.0:8081".
func port(t *testing.T, what, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(p)
	if err != nil || perr != nil {
		t.Fatalf("%s=%q is not host:port", what, addr)
	}
	return n
}

// serviceFacts are what the deployment files must agree with, read from the
// service's own source, Dockerfile and README (the deploy package imports no
// project package).
type serviceFacts struct {
	listenDefault   string            // LISTEN_ADDR default in cmd/image-worker/config.go
	imageEnv        map[string]string // ENV of the Dockerfile
	imageUser       string            // USER of the Dockerfile
	getRoutes       []string          // GET routes registered in proxy/routes.go
	knownEnv        map[string]bool   // variables the service reads, plus runtime ones
	drainSeconds    int               // shutdownGrace in cmd/image-worker/serve.go
	shutdownDelaySe int               // SHUTDOWN_DELAY default
}

var (
	readmeVarRE = regexp.MustCompile("`([A-Z][A-Z0-9_]{2,})`")
	getRouteRE  = regexp.MustCompile(`\.GET\("([^"]+)"`)
	listenDefRE = regexp.MustCompile(`e\.Str\("LISTEN_ADDR",\s*"([^"]*)"\)`)
	drainRE     = regexp.MustCompile(`shutdownGrace\s*=\s*(\d+)\s*\*\s*time\.Second`)
	delayRE     = regexp.MustCompile(`e\.Duration\("SHUTDOWN_DELAY",\s*(\d+)\s*\*\s*time\.Second\)`)
)

func loadFacts(t *testing.T) serviceFacts {
	t.Helper()
	f := serviceFacts{imageEnv: map[string]string{}, knownEnv: map[string]bool{}}

	reads, read := serviceEnv(t)
	maps.Copy(f.knownEnv, read)
	if len(reads) < 30 {
		t.Fatalf("found only %d variables read by the binary; has the env reader changed?", len(reads))
	}
	// The README's configuration table documents the same variables.
	for _, n := range readmeConfig(t) {
		f.knownEnv[n] = true
	}
	for v := range runtimeOnly {
		f.knownEnv[v] = true
	}

	cfg := readRepo(t, "cmd/image-worker/config.go")
	if m := listenDefRE.FindStringSubmatch(cfg); m != nil {
		f.listenDefault = m[1]
	} else {
		t.Fatal(`cmd/image-worker/config.go: no e.Str("LISTEN_ADDR", "...") default found`)
	}
	if m := delayRE.FindStringSubmatch(cfg); m != nil {
		f.shutdownDelaySe, _ = strconv.Atoi(m[1])
	}
	if m := drainRE.FindStringSubmatch(readRepo(t, "cmd/image-worker/serve.go")); m != nil {
		f.drainSeconds, _ = strconv.Atoi(m[1])
	} else {
		t.Fatal("cmd/image-worker/serve.go: no `shutdownGrace = N * time.Second` found")
	}
	for _, m := range getRouteRE.FindAllStringSubmatch(readRepo(t, "proxy/routes.go"), -1) {
		if !slices.Contains(f.getRoutes, m[1]) {
			f.getRoutes = append(f.getRoutes, m[1])
		}
	}

	// Dockerfile: ENV a=b \ c=d continuation lines, and USER, of the last
	// stage (the image that runs).
	lines := strings.Split(strings.ReplaceAll(readRepo(t, "Dockerfile"), "\\\n", " "), "\n")
	for _, l := range lines {
		fields := strings.Fields(l)
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "FROM":
			f.imageEnv, f.imageUser = map[string]string{}, ""
		case "ENV":
			for _, kv := range fields[1:] {
				if k, v, ok := strings.Cut(kv, "="); ok {
					f.imageEnv[k] = v
				}
			}
		case "USER":
			f.imageUser = fields[1]
		}
	}
	return f
}

// unknownEnv returns the names that the service does not know, sorted.
func unknownEnv(names []string, known map[string]bool) []string {
	var out []string
	for _, n := range names {
		if !known[n] && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func TestServiceFactsAndEnvCheck(t *testing.T) {
	f := loadFacts(t)
	for _, r := range []string{"/health", "/ready"} {
		if !slices.Contains(f.getRoutes, r) {
			t.Errorf("proxy/routes.go GET routes = %v, want %s among them", f.getRoutes, r)
		}
	}
	if got := port(t, "LISTEN_ADDR default", f.listenDefault); got != 8000 {
		t.Errorf("LISTEN_ADDR default port = %d, want 8000 (the port every deploy file uses)", got)
	}
	if f.drainSeconds <= 0 {
		t.Errorf("shutdownGrace = %ds, want > 0", f.drainSeconds)
	}
	tests := []struct {
		name  string
		names []string
		want  []string
	}{
		{"all known", []string{"LISTEN_ADDR", "IMAGE_SIGNING_KEYS", "IMAGE_SIGNING_KEYS_FILE", "GROUPCACHE_SELF", "GOMEMLIMIT"}, nil},
		{"misspelt", []string{"GROUPCACHE_PEER", "S3_ENDPOINT"}, []string{"GROUPCACHE_PEER"}},
		{"not a variable of this service", []string{"MINIO_ROOT_PASSWORD", "LOG_LEVEL", "MINIO_ROOT_PASSWORD"}, []string{"MINIO_ROOT_PASSWORD"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := unknownEnv(tt.names, f.knownEnv); !slices.Equal(got, tt.want) {
				t.Errorf("unknownEnv(%v) = %v, want %v", tt.names, got, tt.want)
			}
		})
	}
}
