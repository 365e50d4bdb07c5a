package deploy

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The memory limit must hold the serving process (serverPeakMiB plus a full
// groupcache) and MAX_CONCURRENT_TRANSFORMS render workers at their bound
// (workerBoundMiB: transform's TestRenderMemoryIsBounded, at the default
// 50 MP); see the comment at the top of k8s/deployment.yaml.
const (
	serverPeakMiB  = 100
	workerBoundMiB = 445
)

// cluster is the decoded deploy/k8s tree (the KEDA folder included).
type cluster struct {
	docs      []doc          // every manifest (kustomization files aside)
	kust      map[string]any // k8s/kustomization.yaml
	deploy    doc
	replicas  int // what kustomization.yaml sets for the Deployment
	container map[string]any
	env       map[string]string // effective container env: envFrom, then env
	envOrder  []string          // names of the container's env list, in order
	facts     serviceFacts
}

// manifestGlobs are the Kubernetes manifests of deploy/k8s, its KEDA
// component and the monitoring folder.
var manifestGlobs = []string{"k8s/*.yaml", "k8s/*/*.yaml"}

// loadManifests decodes the manifests, leaving out the kustomization.yaml
// files (kustomize's own, not Kubernetes objects).
func loadManifests(t *testing.T) []doc {
	t.Helper()
	var out []doc
	for _, d := range loadDocs(t, manifestGlobs...) {
		if path.Base(d.file) != "kustomization.yaml" {
			out = append(out, d)
		}
	}
	return out
}

func loadCluster(t *testing.T) cluster {
	t.Helper()
	c := cluster{docs: loadManifests(t), facts: loadFacts(t)}
	kusts := loadDocs(t, "k8s/kustomization.yaml")
	if len(kusts) != 1 {
		t.Fatalf("k8s/kustomization.yaml: %d documents, want 1", len(kusts))
	}
	c.kust = kusts[0].obj
	c.deploy = c.one(t, "Deployment", "image-worker")
	c.replicas = -1
	for _, r := range listAt(c.kust, "replicas") {
		if str(r, "name") == c.deploy.name() {
			c.replicas, _ = intAt(r, "count")
		}
	}
	for _, ct := range listAt(c.deploy.obj, "spec", "template", "spec", "containers") {
		if str(ct, "name") == "image-worker" {
			c.container, _ = ct.(map[string]any)
		}
	}
	if c.container == nil {
		t.Fatalf("%s: no container named image-worker", c.deploy)
	}
	c.env = map[string]string{}
	for _, ef := range listAt(c.container, "envFrom") {
		switch {
		case str(ef, "configMapRef", "name") != "":
			for k, v := range mapAt(c.one(t, "ConfigMap", str(ef, "configMapRef", "name")).obj, "data") {
				c.env[k] = fmt.Sprint(v)
			}
		case str(ef, "secretRef", "name") != "":
			for k, v := range c.generatedSecret(t, str(ef, "secretRef", "name")) {
				c.env[k] = v
			}
		}
	}
	for _, e := range listAt(c.container, "env") {
		name := str(e, "name")
		c.envOrder = append(c.envOrder, name)
		if v := dig(e, "value"); v != nil {
			c.env[name] = fmt.Sprint(v)
		} else {
			c.env[name] = "valueFrom:" + str(e, "valueFrom", "fieldRef", "fieldPath")
		}
	}
	return c
}

// generatedSecret returns the variables of the Secret that
// kustomization.yaml's secretGenerator makes under that name, as its
// committed example shows them: the generator reads FILE (secrets.env,
// never committed), whose example is FILE.example next to it.
func (c cluster) generatedSecret(t *testing.T, name string) map[string]string {
	t.Helper()
	for _, g := range listAt(c.kust, "secretGenerator") {
		if str(g, "name") != name {
			continue
		}
		out := map[string]string{}
		envs := listAt(g, "envs")
		if len(envs) == 0 {
			t.Fatalf("k8s/kustomization.yaml: secretGenerator %s reads no env file", name)
		}
		for _, f := range envs {
			example := filepath.Join("k8s", fmt.Sprint(f)+".example")
			b, err := os.ReadFile(example)
			if err != nil {
				t.Fatalf("secretGenerator %s reads %v: want its example %s committed: %v", name, f, example, err)
			}
			for k, v := range parseEnvFile(string(b)) {
				out[k] = v
			}
		}
		return out
	}
	t.Fatalf("the Deployment reads Secret %s, which k8s/kustomization.yaml does not generate", name)
	return nil
}

// parseEnvFile reads KEY=VALUE lines as kustomize's secretGenerator does:
// blank lines and lines starting with # are skipped, the value is the rest
// of the line, unquoted.
func parseEnvFile(content string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(content, "\n") {
		line = strings.TrimLeft(line, " \t\r")
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		out[k] = v
	}
	return out
}

// one returns the single document of that kind and name.
func (c cluster) one(t *testing.T, kind, name string) doc {
	t.Helper()
	var found []doc
	for _, d := range c.docs {
		if d.kind() == kind && d.name() == name {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one %s/%s in deploy/k8s, found %d", kind, name, len(found))
	}
	return found[0]
}

func (c cluster) ofKind(kind string) []doc {
	var out []doc
	for _, d := range c.docs {
		if d.kind() == kind {
			out = append(out, d)
		}
	}
	return out
}

// addr returns the effective value of a listen address: the manifest, else
// the image's ENV, else the service default.
func (c cluster) addr(name, def string) string {
	if v, ok := c.env[name]; ok && v != "" {
		return v
	}
	if v, ok := c.facts.imageEnv[name]; ok {
		return v
	}
	return def
}

func (c cluster) listenPort(t *testing.T) int {
	return port(t, "LISTEN_ADDR", c.addr("LISTEN_ADDR", c.facts.listenDefault))
}

func (c cluster) internalPort(t *testing.T) int {
	return port(t, "INTERNAL_ADDR", c.addr("INTERNAL_ADDR", "127.0.0.1:8081"))
}

// containerPort resolves a probe or Service target port (number or name).
func (c cluster) containerPort(ref any) int {
	if n, ok := ref.(int); ok {
		return n
	}
	for _, p := range listAt(c.container, "ports") {
		if str(p, "name") == fmt.Sprint(ref) {
			n, _ := intAt(p, "containerPort")
			return n
		}
	}
	return -1
}

func (c cluster) podLabels() map[string]any {
	return mapAt(c.deploy.obj, "spec", "template", "metadata", "labels")
}

func TestK8sDocumentsWellFormed(t *testing.T) {
	c := loadCluster(t)
	wantAPI := map[string]string{
		"Deployment": "apps/v1", "Service": "v1", "ConfigMap": "v1", "Secret": "v1",
		"PodDisruptionBudget": "policy/v1", "HorizontalPodAutoscaler": "autoscaling/v2",
		"ScaledObject": "keda.sh/v1alpha1", "NetworkPolicy": "networking.k8s.io/v1",
		"PodMonitor": "monitoring.coreos.com/v1",
	}
	seen := map[string]int{}
	for _, d := range c.docs {
		if str(d.obj, "apiVersion") == "" || d.kind() == "" || d.name() == "" {
			t.Errorf("%s: want apiVersion, kind and metadata.name, got %q %q %q", d.file, str(d.obj, "apiVersion"), d.kind(), d.name())
			continue
		}
		if want, ok := wantAPI[d.kind()]; !ok {
			t.Errorf("%s: unexpected kind (one resource per document, no Lists)", d)
		} else if got := str(d.obj, "apiVersion"); got != want {
			t.Errorf("%s: apiVersion %q, want %q", d, got, want)
		}
		seen[d.kind()+"/"+d.name()]++
		seen[d.kind()]++
	}
	for k, n := range seen {
		if strings.Contains(k, "/") && n > 1 {
			t.Errorf("%s defined %d times", k, n)
		}
	}
	// No Secret manifest: the Secret is generated from the operator's
	// secrets.env, so an apply never overwrites real secrets with placeholders.
	for kind, want := range map[string]int{"Deployment": 1, "Service": 2, "ConfigMap": 1, "Secret": 0,
		"PodDisruptionBudget": 1, "HorizontalPodAutoscaler": 1, "ScaledObject": 1, "NetworkPolicy": 1, "PodMonitor": 1} {
		if seen[kind] != want {
			t.Errorf("%d %s documents, want %d", seen[kind], kind, want)
		}
	}
}

func TestK8sDeploymentProbesAndPorts(t *testing.T) {
	c := loadCluster(t)
	if c.replicas != 3 {
		t.Errorf("k8s/kustomization.yaml replicas of %s = %d, want 3", c.deploy.name(), c.replicas)
	}
	if r := dig(c.deploy.obj, "spec", "replicas"); r != nil {
		t.Errorf("%s sets replicas %v too: kustomization.yaml is the one place", c.deploy, r)
	}
	if !subset(mapAt(c.deploy.obj, "spec", "selector", "matchLabels"), c.podLabels()) {
		t.Errorf("selector %v does not match pod labels %v", mapAt(c.deploy.obj, "spec", "selector", "matchLabels"), c.podLabels())
	}
	listen, internal := c.listenPort(t), c.internalPort(t)
	if def := port(t, "LISTEN_ADDR default", c.facts.listenDefault); listen != def {
		t.Errorf("public port %d, want the LISTEN_ADDR default %d", listen, def)
	}
	var ports []int
	for _, p := range listAt(c.container, "ports") {
		n, _ := intAt(p, "containerPort")
		ports = append(ports, n)
	}
	for _, want := range []int{listen, internal} {
		if !slices.Contains(ports, want) {
			t.Errorf("container ports %v, want %d among them", ports, want)
		}
	}
	tests := []struct {
		probe, path string
		required    bool
	}{
		{"livenessProbe", "/health", true},
		{"readinessProbe", "/ready", true},
		{"startupProbe", "/health", false},
	}
	for _, tt := range tests {
		t.Run(tt.probe, func(t *testing.T) {
			p := mapAt(c.container, tt.probe)
			if p == nil {
				if tt.required {
					t.Fatalf("no %s", tt.probe)
				}
				return
			}
			if got := str(p, "httpGet", "path"); got != tt.path || !slices.Contains(c.facts.getRoutes, got) {
				t.Errorf("%s path %q, want %q (GET routes: %v)", tt.probe, got, tt.path, c.facts.getRoutes)
			}
			if got := c.containerPort(dig(p, "httpGet", "port")); got != listen {
				t.Errorf("%s port %v = container port %d, want the public port %d", tt.probe, dig(p, "httpGet", "port"), got, listen)
			}
		})
	}
}

func TestK8sDeploymentEnv(t *testing.T) {
	c := loadCluster(t)
	var names []string
	for k := range c.env {
		names = append(names, k)
	}
	if bad := unknownEnv(names, c.facts.knownEnv); len(bad) > 0 {
		t.Errorf("variables the service does not read: %v", bad)
	}
	internal := c.internalPort(t)
	if got, want := c.env["GROUPCACHE_SELF"], fmt.Sprintf("http://$(POD_IP):%d", internal); got != want {
		t.Errorf("GROUPCACHE_SELF = %q, want %q", got, want)
	}
	if c.env["POD_IP"] != "valueFrom:status.podIP" {
		t.Errorf("POD_IP = %q, want a fieldRef to status.podIP", c.env["POD_IP"])
	}
	if i, j := slices.Index(c.envOrder, "POD_IP"), slices.Index(c.envOrder, "GROUPCACHE_SELF"); i < 0 || j < i {
		t.Errorf("env order %v: POD_IP must come before GROUPCACHE_SELF for $(POD_IP) to expand", c.envOrder)
	}
	// The internal listener binds the pod IP, the address GROUPCACHE_SELF
	// and the headless Service's DNS answers name, never 0.0.0.0.
	if got, want := c.env["INTERNAL_ADDR"], fmt.Sprintf("$(POD_IP):%d", internal); got != want {
		t.Errorf("INTERNAL_ADDR = %q, want %q (the pod IP from the downward API)", got, want)
	}
	if i, j := slices.Index(c.envOrder, "POD_IP"), slices.Index(c.envOrder, "INTERNAL_ADDR"); i < 0 || j < i {
		t.Errorf("env order %v: POD_IP must come before INTERNAL_ADDR for $(POD_IP) to expand", c.envOrder)
	}
	if v, ok := mapAt(c.one(t, "ConfigMap", "image-worker-config").obj, "data")["INTERNAL_ADDR"]; ok {
		t.Errorf("the ConfigMap sets INTERNAL_ADDR = %v too; the container's env wins, so it only misleads", v)
	}
	if c.env["GROUPCACHE_PEERS"] != "" {
		t.Errorf("GROUPCACHE_PEERS = %q: use GROUPCACHE_PEERS_DNS only", c.env["GROUPCACHE_PEERS"])
	}
	host, p, ok := strings.Cut(c.env["GROUPCACHE_PEERS_DNS"], ":")
	headless := c.headless(t)
	if !ok || host != headless.name() || p != strconv.Itoa(internal) {
		t.Errorf("GROUPCACHE_PEERS_DNS = %q, want %s:%d (the headless Service, the internal port)", c.env["GROUPCACHE_PEERS_DNS"], headless.name(), internal)
	}
	for _, k := range []string{"IMAGE_SIGNING_KEYS", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_ENDPOINT", "PROCESS_TOKENS", "PEER_SECRET"} {
		if _, ok := c.env[k]; !ok {
			t.Errorf("%s is not given to the container", k)
		}
	}
}

func (c cluster) headless(t *testing.T) doc {
	t.Helper()
	var hs []doc
	for _, s := range c.ofKind("Service") {
		if str(s.obj, "spec", "clusterIP") == "None" {
			hs = append(hs, s)
		}
	}
	if len(hs) != 1 {
		t.Fatalf("want one headless Service (clusterIP: None), found %d", len(hs))
	}
	return hs[0]
}

func TestK8sServices(t *testing.T) {
	c := loadCluster(t)
	listen, internal := c.listenPort(t), c.internalPort(t)
	h := c.headless(t)
	if v, _ := dig(h.obj, "spec", "publishNotReadyAddresses").(bool); v {
		t.Errorf("%s: publishNotReadyAddresses true; draining and starting pods must not be peers", h)
	}
	for _, s := range c.ofKind("Service") {
		if !subset(mapAt(s.obj, "spec", "selector"), c.podLabels()) {
			t.Errorf("%s: selector %v does not match pod labels %v", s, mapAt(s.obj, "spec", "selector"), c.podLabels())
		}
		var targets []int
		for _, p := range listAt(s.obj, "spec", "ports") {
			target := dig(p, "targetPort")
			if target == nil {
				target = dig(p, "port")
			}
			targets = append(targets, c.containerPort(target))
		}
		want := listen
		if s.name() == h.name() {
			want = internal
		}
		if !slices.Equal(targets, []int{want}) {
			t.Errorf("%s targets container ports %v, want only %d", s, targets, want)
		}
	}
}
