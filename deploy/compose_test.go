package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// loadCompose decodes compose.yaml (anchors and merge keys resolved).
func loadCompose(t *testing.T) map[string]any {
	t.Helper()
	docs := loadDocs(t, "compose.yaml")
	if len(docs) != 1 {
		t.Fatalf("compose.yaml: %d documents, want 1", len(docs))
	}
	return docs[0].obj
}

// clone deep-copies a decoded document so a case can break it.
func clone(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	b, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := yaml.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// env returns a compose service's environment, map or list form.
func env(svc any) map[string]string {
	out := map[string]string{}
	switch e := dig(svc, "environment").(type) {
	case map[string]any:
		for k, v := range e {
			if v == nil {
				out[k] = ""
			} else {
				out[k] = fmt.Sprint(v)
			}
		}
	case []any:
		for _, kv := range e {
			k, v, _ := strings.Cut(fmt.Sprint(kv), "=")
			out[k] = v
		}
	}
	return out
}

// workers returns the image-worker services: those built from the repo's Dockerfile.
func workers(c map[string]any) []string {
	var out []string
	for name, svc := range mapAt(c, "services") {
		if dig(svc, "build") != nil && str(svc, "build", "dockerfile") == "Dockerfile" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// publishedContainerPorts returns the container side of every published port.
func publishedContainerPorts(svc any) []string {
	var out []string
	for _, p := range listAt(svc, "ports") {
		if m, ok := p.(map[string]any); ok {
			out = append(out, fmt.Sprint(m["target"]))
			continue
		}
		s := fmt.Sprint(p)
		s, _, _ = strings.Cut(s, "/")
		out = append(out, s[strings.LastIndex(s, ":")+1:])
	}
	return out
}

// checkPeers: three replicas, one image, each GROUPCACHE_SELF its own
// internal URL and every GROUPCACHE_PEERS the same list of those URLs.
func checkPeers(c map[string]any, internalPort int) []string {
	var problems []string
	ws := workers(c)
	if len(ws) != 3 {
		problems = append(problems, fmt.Sprintf("image-worker services %v, want 3", ws))
	}
	var selves []string
	var peerLists [][]string
	images := map[string]bool{}
	for _, w := range ws {
		svc := dig(c, "services", w)
		images[str(svc, "image")] = true
		e := env(svc)
		want := fmt.Sprintf("http://%s:%d", w, internalPort)
		if e["GROUPCACHE_SELF"] != want {
			problems = append(problems, fmt.Sprintf("%s: GROUPCACHE_SELF %q, want %q", w, e["GROUPCACHE_SELF"], want))
		}
		// The internal listener binds the replica's own address on the
		// compose network (its service name), never all interfaces.
		if want := fmt.Sprintf("%s:%d", w, internalPort); e["INTERNAL_ADDR"] != want {
			problems = append(problems, fmt.Sprintf("%s: INTERNAL_ADDR %q, want %q", w, e["INTERNAL_ADDR"], want))
		}
		selves = append(selves, e["GROUPCACHE_SELF"])
		peers := strings.Split(e["GROUPCACHE_PEERS"], ",")
		slices.Sort(peers)
		peerLists = append(peerLists, peers)
	}
	slices.Sort(selves)
	for i, p := range peerLists {
		if !slices.Equal(p, selves) {
			problems = append(problems, fmt.Sprintf("%s: GROUPCACHE_PEERS %v, want every replica's GROUPCACHE_SELF %v", ws[i], p, selves))
		}
	}
	if len(images) != 1 || images[""] {
		problems = append(problems, fmt.Sprintf("replicas use images %v, want one named image", images))
	}
	return problems
}

// checkNotPublished: no service publishes the internal port.
func checkNotPublished(c map[string]any, internalPort int) []string {
	var problems []string
	for name, svc := range mapAt(c, "services") {
		for _, p := range publishedContainerPorts(svc) {
			if p == strconv.Itoa(internalPort) {
				problems = append(problems, fmt.Sprintf("%s publishes the internal port %s", name, p))
			}
		}
	}
	return problems
}

func TestComposeCluster(t *testing.T) {
	f := loadFacts(t)
	internal := port(t, "INTERNAL_ADDR (Dockerfile ENV)", f.imageEnv["INTERNAL_ADDR"])
	real := loadCompose(t)
	tests := []struct {
		name   string
		breakf func(c map[string]any)
		want   string // "" = no problem; else a substring of one problem
	}{
		{"as shipped", func(map[string]any) {}, ""},
		{"wrong self", func(c map[string]any) {
			mapAt(c, "services", "image-worker-2", "environment")["GROUPCACHE_SELF"] = "http://image-worker-3:8081"
		}, "image-worker-2: GROUPCACHE_SELF"},
		{"peer missing", func(c map[string]any) {
			mapAt(c, "services", "image-worker-1", "environment")["GROUPCACHE_PEERS"] = "http://image-worker-1:8081,http://image-worker-2:8081"
		}, "image-worker-1: GROUPCACHE_PEERS"},
		{"two replicas", func(c map[string]any) { delete(mapAt(c, "services"), "image-worker-3") }, "want 3"},
		{"internal on all interfaces", func(c map[string]any) {
			mapAt(c, "services", "image-worker-3", "environment")["INTERNAL_ADDR"] = "0.0.0.0:8081"
		}, "image-worker-3: INTERNAL_ADDR"},
		{"internal bind left to the image", func(c map[string]any) {
			delete(mapAt(c, "services", "image-worker-1", "environment"), "INTERNAL_ADDR")
		}, "image-worker-1: INTERNAL_ADDR"},
		{"internal port published", func(c map[string]any) {
			mapAt(c, "services", "image-worker-1")["ports"] = []any{"127.0.0.1:8001:8000", "127.0.0.1:9081:8081/tcp"}
		}, "publishes the internal port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := clone(t, real)
			tt.breakf(c)
			problems := append(checkPeers(c, internal), checkNotPublished(c, internal)...)
			if tt.want == "" && len(problems) > 0 {
				t.Errorf("compose.yaml: %s", strings.Join(problems, "; "))
			}
			if tt.want != "" && !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("broken copy: problems %q, want one containing %q", problems, tt.want)
			}
		})
	}
}

func TestComposeWorkers(t *testing.T) {
	f := loadFacts(t)
	c := loadCompose(t)
	ws := workers(c)
	if len(ws) == 0 {
		t.Fatal("no image-worker services")
	}
	for _, w := range ws {
		svc := dig(c, "services", w)
		e := env(svc)
		var names []string
		for k := range e {
			names = append(names, k)
		}
		if bad := unknownEnv(names, f.knownEnv); len(bad) > 0 {
			t.Errorf("%s: variables the service does not read: %v", w, bad)
		}
		for _, k := range []string{"IMAGE_SIGNING_KEYS", "S3_SECRET_KEY", "PROCESS_TOKENS"} {
			if !strings.HasPrefix(e[k], "${") || !strings.Contains(e[k], ":?") {
				t.Errorf("%s: %s = %q, want a required ${VAR:?message}", w, k, e[k])
			}
		}
		if ctx := str(svc, "build", "context"); !exists(filepath.Join(ctx, "Dockerfile")) {
			t.Errorf("%s: build context %q has no Dockerfile", w, ctx)
		}
		if !strings.Contains(fmt.Sprint(dig(svc, "healthcheck", "test")), "health") {
			t.Errorf("%s: healthcheck %v, want image-worker health", w, dig(svc, "healthcheck", "test"))
		}
		if grace := parseSeconds(t, str(svc, "stop_grace_period")); int(grace) <= f.shutdownDelaySe+f.drainSeconds {
			t.Errorf("%s: stop_grace_period %q, want more than SHUTDOWN_DELAY %ds + drain %ds", w, str(svc, "stop_grace_period"), f.shutdownDelaySe, f.drainSeconds)
		}
		// The dependencies the env names are services of this file.
		for _, k := range []string{"S3_ENDPOINT", "KAFKA_BROKERS"} {
			host, _, _ := strings.Cut(e[k], ":")
			if dig(c, "services", host) == nil {
				t.Errorf("%s: %s=%q names no service", w, k, e[k])
			}
		}
	}
	// The topics and the table the replicas use exist once the init steps ran.
	e := env(dig(c, "services", ws[0]))
	for _, k := range []string{"KAFKA_TOPIC", "KAFKA_DLQ_TOPIC", "KAFKA_RESULT_TOPIC"} {
		cmd := fmt.Sprint(dig(c, "services", "kafka-init", "command"))
		if e[k] == "" || !strings.Contains(cmd, "--topic "+e[k]+" ") {
			t.Errorf("kafka-init does not create %s=%q", k, e[k])
		}
	}
	if sql := str(c, "configs", "catalog-init", "content"); !strings.Contains(sql, "TABLE IF NOT EXISTS "+e["CATALOG_TABLE"]+" ") {
		t.Errorf("catalog-init does not create CATALOG_TABLE=%q", e["CATALOG_TABLE"])
	}
	if p := fmt.Sprint(env(dig(c, "services", "minio"))["MINIO_ROOT_PASSWORD"]); !strings.Contains(p, ":?") {
		t.Errorf("MINIO_ROOT_PASSWORD = %q, want a required ${VAR:?message}", p)
	}
	sql := str(c, "configs", "catalog-init", "content")
	for _, col := range []string{"book_id", "cover_storage_url", "cover_version", "cover_updated_at"} {
		if !strings.Contains(sql, col) {
			t.Errorf("catalog-init SQL has no column %s", col)
		}
	}
	// Every column the service is told to write (the metadata and status
	// columns too) is one the table has.
	for k, v := range e {
		if strings.HasPrefix(k, "CATALOG_") && strings.HasSuffix(k, "_COLUMN") && !strings.Contains(sql, "\n  "+fmt.Sprint(v)+" ") {
			t.Errorf("%s=%s, but catalog-init SQL has no such column", k, v)
		}
	}
	if !slices.Contains(listAt(c, "services", "catalog", "profiles"), any("catalog")) {
		t.Errorf("catalog service profiles %v, want catalog", dig(c, "services", "catalog", "profiles"))
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func TestComposeStartupOrder(t *testing.T) {
	c := loadCompose(t)
	services := mapAt(c, "services")
	for name, svc := range services {
		for dep, cond := range mapAt(svc, "depends_on") {
			target := services[dep]
			if target == nil {
				t.Errorf("%s depends on unknown service %s", name, dep)
				continue
			}
			if str(cond, "condition") == "service_healthy" && dig(target, "healthcheck", "test") == nil {
				t.Errorf("%s waits for %s to be healthy, which has no healthcheck", name, dep)
			}
			if len(listAt(target, "profiles")) > 0 && dig(cond, "required") != false {
				t.Errorf("%s requires %s, which only runs with profile %v", name, dep, listAt(target, "profiles"))
			}
		}
	}
	for _, w := range workers(c) {
		deps := mapAt(c, "services", w, "depends_on")
		for dep, want := range map[string]string{"minio": "service_healthy", "bucket-init": "service_completed_successfully", "kafka-init": "service_completed_successfully"} {
			if got := str(deps, dep, "condition"); got != want {
				t.Errorf("%s depends_on %s: condition %q, want %q", w, dep, got, want)
			}
		}
	}
}

var (
	listenRE   = regexp.MustCompile(`(?m)^\s*listen\s+(?:[^\s;]+:)?(\d+)\b[^;]*;`)
	upstreamRE = regexp.MustCompile(`(?s)upstream\s+\w+\s*\{(.*?)\}`)
	serverRE   = regexp.MustCompile(`(?m)^\s*server\s+([^\s;]+)`)
)

func TestComposeEdge(t *testing.T) {
	f := loadFacts(t)
	listen := port(t, "LISTEN_ADDR (Dockerfile ENV)", f.imageEnv["LISTEN_ADDR"])
	c := loadCompose(t)
	var edge string
	var mount string
	for name, svc := range mapAt(c, "services") {
		for _, v := range listAt(svc, "volumes") {
			src, dst, _ := strings.Cut(fmt.Sprint(v), ":")
			if filepath.Clean(src) == filepath.Join("nginx", "cdn.conf") {
				edge, mount = name, dst
			}
		}
	}
	if edge == "" {
		t.Fatal("no service mounts ./nginx/cdn.conf")
	}
	if !strings.HasPrefix(mount, "/etc/nginx/conf.d/") || !strings.HasSuffix(strings.TrimSuffix(mount, ":ro"), ".conf") {
		t.Errorf("%s mounts cdn.conf at %q, want /etc/nginx/conf.d/*.conf (it is an http{}-level include)", edge, mount)
	}
	conf, err := os.ReadFile(filepath.Join("nginx", "cdn.conf"))
	if err != nil {
		t.Fatalf("read nginx/cdn.conf: %v", err)
	}
	m := listenRE.FindSubmatch(conf)
	if m == nil {
		t.Fatal("nginx/cdn.conf: no listen directive")
	}
	if ports := publishedContainerPorts(dig(c, "services", edge)); !slices.Equal(ports, []string{string(m[1])}) || string(m[1]) != "8080" {
		t.Errorf("%s publishes %v, cdn.conf listens on %s; want 8080 published", edge, ports, m[1])
	}
	up := upstreamRE.FindSubmatch(conf)
	if up == nil {
		t.Fatal("nginx/cdn.conf: no upstream block")
	}
	var servers, want []string
	for _, s := range serverRE.FindAllSubmatch(up[1], -1) {
		servers = append(servers, string(s[1]))
	}
	for _, w := range workers(c) {
		want = append(want, fmt.Sprintf("%s:%d", w, listen))
		if got := str(c, "services", edge, "depends_on", w, "condition"); got != "service_healthy" {
			t.Errorf("%s depends_on %s: %q, want service_healthy (nginx resolves upstreams once, at start)", edge, w, got)
		}
	}
	slices.Sort(servers)
	if !slices.Equal(servers, want) {
		t.Errorf("cdn.conf upstream servers %v, want the replicas' public ports %v", servers, want)
	}
}
