package kustomize

import (
	"encoding/base64"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

const (
	deployDir   = ".."                      // deploy/, relative to this module
	baseDir     = "k8s"                     // the base, relative to deploy/
	secretsFile = "k8s/secrets.env"         // what the secretGenerator reads; never committed
	exampleFile = "k8s/secrets.env.example" // its committed example
	appName     = "image-worker"
	partOf      = "bookcovers"
)

// The folders of deploy/ that kustomize reads: the base and the KEDA overlay.
var folders = []string{"k8s", "k8s-keda"}

// tree is a copy of those folders: slash path relative to deploy/ -> content.
type tree map[string]string

// loadTree reads every file of the folders but k8s/secrets.env: an
// operator's real secrets are never read, and the test writes its own.
func loadTree(t *testing.T) tree {
	t.Helper()
	tr := tree{}
	for _, f := range folders {
		err := filepath.WalkDir(filepath.Join(deployDir, f), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, err := filepath.Rel(deployDir, p)
			if err != nil || filepath.ToSlash(rel) == secretsFile {
				return err
			}
			b, err := os.ReadFile(p)
			tr[filepath.ToSlash(rel)] = string(b)
			return err
		})
		if err != nil {
			t.Fatalf("reading deploy/%s: %v", f, err)
		}
		if _, ok := tr[f+"/kustomization.yaml"]; !ok {
			t.Fatalf("deploy/%s has no kustomization.yaml", f)
		}
	}
	return tr
}

func (tr tree) clone() tree { return maps.Clone(tr) }

// replace edits one file of the tree and fails when old is not there, so a
// broken copy is never silently the shipped one.
func (tr tree) replace(t *testing.T, file, old, new string) {
	t.Helper()
	if !strings.Contains(tr[file], old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	tr[file] = strings.Replace(tr[file], old, new, 1)
}

// envLines parses KEY=VALUE lines the way kustomize's secretGenerator does:
// blank lines and lines starting with # skipped, the value taken as is.
func envLines(content string) ([]string, map[string]string) {
	var keys []string
	vals := map[string]string{}
	for _, line := range strings.Split(content, "\n") {
		line = strings.TrimLeft(line, " \t\r")
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		keys = append(keys, k)
		vals[k] = v
	}
	return keys, vals
}

// usableSecrets are values the service accepts, one per key of the example
// (hex for the signing keys, 16+ token characters elsewhere).
func usableSecrets(t *testing.T, tr tree) map[string]string {
	t.Helper()
	keys, _ := envLines(tr[exampleFile])
	if len(keys) == 0 {
		t.Fatalf("%s names no variable", exampleFile)
	}
	out := map[string]string{}
	for i, k := range keys {
		switch k {
		case "IMAGE_SIGNING_KEYS":
			out[k] = strings.Repeat(fmt.Sprintf("%02x", i+1), 32)
		case "CATALOG_DATABASE_URL":
			out[k] = "postgres://covers:pw@catalog.db.svc:5432/covers?sslmode=require"
		default:
			out[k] = fmt.Sprintf("test-%s-0123456789abcdef", strings.ToLower(k))
		}
	}
	return out
}

func envFile(vals map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		fmt.Fprintf(&b, "%s=%s\n", k, vals[k])
	}
	return b.String()
}

// object is one rendered resource.
type object struct {
	kind, name string
	m          map[string]any
}

func (o object) String() string { return o.kind + "/" + o.name }

// render runs kustomize (krusty, what `kubectl apply -k` runs) on dir of
// the tree, in memory.
func render(tr tree, dir string) ([]object, error) {
	fSys := filesys.MakeFsInMemory()
	for rel, content := range tr {
		p := path.Join("/deploy", rel)
		if err := fSys.MkdirAll(path.Dir(p)); err != nil {
			return nil, err
		}
		if err := fSys.WriteFile(p, []byte(content)); err != nil {
			return nil, err
		}
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fSys, path.Join("/deploy", dir))
	if err != nil {
		return nil, err
	}
	var out []object
	for _, r := range m.Resources() {
		obj, err := r.Map()
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", r.GetKind(), r.GetName(), err)
		}
		out = append(out, object{kind: r.GetKind(), name: r.GetName(), m: obj})
	}
	return out, nil
}

func kustomization(tr tree, dir string) (types.Kustomization, error) {
	var k types.Kustomization
	err := yaml.Unmarshal([]byte(tr[path.Join(dir, "kustomization.yaml")]), &k)
	return k, err
}

// manifestNames returns kind/name of every document of a manifest file.
func manifestNames(content string) []string {
	var out []string
	for _, d := range strings.Split(content, "\n---") {
		var m map[string]any
		if yaml.Unmarshal([]byte(d), &m) != nil || m == nil {
			continue
		}
		out = append(out, str(m, "kind")+"/"+str(m, "metadata", "name"))
	}
	return out
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func str(v any, keys ...string) string {
	if s, ok := dig(v, keys...).(string); ok {
		return s
	}
	if x := dig(v, keys...); x != nil {
		return fmt.Sprint(x)
	}
	return ""
}

func list(v any, keys ...string) []any { l, _ := dig(v, keys...).([]any); return l }

func labels(v any, keys ...string) map[string]any { m, _ := dig(v, keys...).(map[string]any); return m }

func num(v any, keys ...string) (int, bool) {
	switch x := dig(v, keys...).(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case float64:
		return int(x), x == float64(int(x))
	}
	return 0, false
}

// selects reports whether every label of a non-empty selector is on the pod.
func selects(sel, pod map[string]any) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if pod[k] != v {
			return false
		}
	}
	return true
}

// wanted is what a build of one folder must produce.
type wanted struct {
	dir       string   // the folder built, relative to deploy/
	folders   []string // it and the components it uses: each lists all its manifests
	resources []string // kind/name of every resource but the generated Secret, sorted
	scaler    string   // the autoscaler kind that must target the Deployment
}

var builds = []wanted{
	{"k8s", []string{"k8s"}, []string{"ConfigMap/image-worker-config", "Deployment/image-worker", "HorizontalPodAutoscaler/image-worker",
		"NetworkPolicy/image-worker", "PodDisruptionBudget/image-worker", "Service/image-worker", "Service/image-worker-peers"},
		"HorizontalPodAutoscaler"},
	{"k8s-keda", []string{"k8s-keda", "k8s/keda"}, []string{"ConfigMap/image-worker-config", "Deployment/image-worker", "NetworkPolicy/image-worker",
		"PodDisruptionBudget/image-worker", "ScaledObject/image-worker", "Service/image-worker", "Service/image-worker-peers"},
		"ScaledObject"},
}

// check returns every problem of the rendering objs of w.dir, built from tr
// with secrets as secrets.env.
func check(tr tree, w wanted, objs []object, secrets map[string]string) []string {
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	base, err := kustomization(tr, baseDir)
	if err != nil {
		return []string{fmt.Sprintf("%s/kustomization.yaml: %v", baseDir, err)}
	}

	// Every resource: each manifest of the folder is listed and comes out,
	// and exactly the expected resources come out.
	var got []string
	for _, o := range objs {
		if o.kind != "Secret" {
			got = append(got, o.String())
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, w.resources) {
		bad("rendered %v (Secrets aside), want %v", got, w.resources)
	}
	for _, rel := range slices.Sorted(maps.Keys(tr)) {
		content, folder := tr[rel], path.Dir(rel)
		if !slices.Contains(w.folders, folder) || path.Ext(rel) != ".yaml" || path.Base(rel) == "kustomization.yaml" {
			continue
		}
		k, err := kustomization(tr, folder)
		if err != nil {
			bad("%s/kustomization.yaml: %v", folder, err)
			continue
		}
		if !slices.Contains(k.Resources, path.Base(rel)) {
			bad("%s is not listed in resources of %s/kustomization.yaml: it is never applied", rel, folder)
			continue
		}
		for _, n := range manifestNames(content) {
			if !slices.Contains(got, n) && !strings.HasPrefix(n, "Secret/") {
				bad("%s defines %s, which is not rendered", rel, n)
			}
		}
	}

	var deploy object
	for _, o := range objs {
		if o.kind == "Deployment" && o.name == appName {
			deploy = o
		}
	}
	if deploy.m == nil {
		return append(problems, "no Deployment/"+appName+" rendered")
	}
	pod := labels(deploy.m, "spec", "template", "metadata", "labels")
	var container any
	for _, c := range list(deploy.m, "spec", "template", "spec", "containers") {
		if str(c, "name") == appName {
			container = c
		}
	}

	// The image kustomization.yaml names.
	wantImage := ""
	for _, im := range base.Images {
		if im.Name == appName {
			wantImage = im.NewName + ":" + im.NewTag
			if im.Digest != "" {
				wantImage = im.NewName + "@" + im.Digest
			}
		}
	}
	if wantImage == "" || strings.HasPrefix(wantImage, ":") {
		bad("kustomization.yaml: images has no newName for %s", appName)
	} else if got := str(container, "image"); got != wantImage {
		bad("container %s runs image %q, want %q (kustomization.yaml images)", appName, got, wantImage)
	}

	// Replicas as set, within the autoscaler's bounds.
	count := int64(-1)
	for _, r := range base.Replicas {
		if r.Name == appName {
			count = r.Count
		}
	}
	if n, ok := num(deploy.m, "spec", "replicas"); !ok || int64(n) != count {
		bad("Deployment replicas %v, want %d (kustomization.yaml replicas)", dig(deploy.m, "spec", "replicas"), count)
	}
	for _, o := range objs {
		if o.kind != w.scaler {
			continue
		}
		ref := dig(o.m, "spec", "scaleTargetRef")
		if str(ref, "name") != deploy.name || str(ref, "kind") != "" && str(ref, "kind") != "Deployment" {
			bad("%s scales %v, want Deployment/%s", o, ref, deploy.name)
		}
		lo, _ := num(o.m, "spec", "minReplicas")
		hi, _ := num(o.m, "spec", "maxReplicas")
		if o.kind == "ScaledObject" {
			lo, _ = num(o.m, "spec", "minReplicaCount")
			hi, _ = num(o.m, "spec", "maxReplicaCount")
		}
		if count < int64(lo) || count > int64(hi) {
			bad("replicas %d outside %s's %d..%d", count, o, lo, hi)
		}
	}

	// Secrets: only the generated one, complete, no placeholder, and the one
	// the Deployment reads.
	exampleKeys, _ := envLines(tr[exampleFile])
	var secretNames []string
	for _, o := range objs {
		if o.kind != "Secret" {
			continue
		}
		secretNames = append(secretNames, o.name)
		for key, v := range labels(o.m, "data") {
			b, err := base64.StdEncoding.DecodeString(fmt.Sprint(v))
			if err != nil {
				bad("%s %s: not base64: %v", o, key, err)
			}
			if strings.Contains(strings.ToUpper(string(b)), "REPLACE") {
				bad("%s %s holds the placeholder %q: it would be applied", o, key, b)
			} else if want, ok := secrets[key]; ok && string(b) != want {
				bad("%s %s = %q, want %q from %s", o, key, b, want, secretsFile)
			}
		}
		for key, v := range labels(o.m, "stringData") {
			if strings.Contains(strings.ToUpper(fmt.Sprint(v)), "REPLACE") {
				bad("%s %s holds the placeholder %q: it would be applied", o, key, v)
			}
		}
		if got := slices.Sorted(maps.Keys(labels(o.m, "data"))); !slices.Equal(got, slices.Sorted(slices.Values(exampleKeys))) {
			bad("%s has keys %v, want those of %s: %v", o, got, exampleFile, slices.Sorted(slices.Values(exampleKeys)))
		}
	}
	var generated string
	for _, g := range base.SecretGenerator {
		generated = g.Name
		if want := path.Base(secretsFile); !slices.Equal(g.EnvSources, []string{want}) {
			bad("secretGenerator %s reads %v, want [%s]", g.Name, g.EnvSources, want)
		}
	}
	if len(secretNames) != 1 || generated == "" || !strings.HasPrefix(secretNames[0], generated+"-") {
		bad("Secrets %v, want only the one generated from %s (%s-<hash>)", secretNames, secretsFile, generated)
	}
	var refs []string
	for _, ef := range list(container, "envFrom") {
		if n := str(ef, "secretRef", "name"); n != "" {
			refs = append(refs, "Secret/"+n)
		}
		if n := str(ef, "configMapRef", "name"); n != "" {
			refs = append(refs, "ConfigMap/"+n)
		}
	}
	if len(refs) != 2 {
		bad("container envFrom %v, want a ConfigMap and a Secret", refs)
	}
	for _, ref := range refs {
		found := false
		for _, o := range objs {
			found = found || o.String() == ref
		}
		if !found {
			bad("the container reads %s, which is not rendered", ref)
		}
	}

	// Labels and selectors.
	if !selects(labels(deploy.m, "spec", "selector", "matchLabels"), pod) {
		bad("Deployment selector %v does not match its pod labels %v", dig(deploy.m, "spec", "selector"), pod)
	}
	for _, c := range list(deploy.m, "spec", "template", "spec", "topologySpreadConstraints") {
		if !selects(labels(c, "labelSelector", "matchLabels"), pod) {
			bad("topologySpreadConstraint selector %v does not match the pod labels %v", dig(c, "labelSelector"), pod)
		}
	}
	for _, o := range objs {
		var sel map[string]any
		switch o.kind {
		case "Service":
			sel = labels(o.m, "spec", "selector")
		case "PodDisruptionBudget":
			sel = labels(o.m, "spec", "selector", "matchLabels")
		case "NetworkPolicy":
			sel = labels(o.m, "spec", "podSelector", "matchLabels")
		default:
			sel = pod
		}
		if !selects(sel, pod) {
			bad("%s selector %v does not match the pod labels %v", o, sel, pod)
		}
		if l := labels(o.m, "metadata", "labels"); l["app.kubernetes.io/name"] != appName || l["app.kubernetes.io/part-of"] != partOf {
			bad("%s labels %v, want app.kubernetes.io/name=%s and app.kubernetes.io/part-of=%s", o, l, appName, partOf)
		}
	}
	return problems
}

func TestKustomizeBuilds(t *testing.T) {
	tr := loadTree(t)
	secrets := usableSecrets(t, tr)
	tr[secretsFile] = envFile(secrets)
	for _, w := range builds {
		name := "deploy/" + w.dir
		t.Run(name, func(t *testing.T) {
			objs, err := render(tr, w.dir)
			if err != nil {
				t.Fatalf("kustomize build %s: %v", name, err)
			}
			for _, p := range check(tr, w, objs, secrets) {
				t.Error(p)
			}
			t.Logf("kustomize build %s: %d resources", name, len(objs))
		})
	}
}

// Without secrets.env nothing builds, so nothing is applied with a
// placeholder or without its secrets.
func TestKustomizeNeedsSecretsEnv(t *testing.T) {
	tr := loadTree(t)
	for _, w := range builds {
		objs, err := render(tr, w.dir)
		if err == nil || !strings.Contains(err.Error(), secretsFile) {
			t.Errorf("kustomize build deploy/%s without %s: %d resources, error %v; want an error naming %s", w.dir, secretsFile, len(objs), err, secretsFile)
		}
	}
}

// Each check fails on a copy of the tree broken the way it guards against.
func TestKustomizeChecksCatchBrokenCopies(t *testing.T) {
	shipped := loadTree(t)
	secrets := usableSecrets(t, shipped)
	tests := []struct {
		name   string
		breakf func(t *testing.T, tr tree, secrets map[string]string)
		want   string
	}{
		{"secrets.env copied from the example unchanged", func(t *testing.T, tr tree, s map[string]string) {
			tr[secretsFile] = tr[exampleFile]
		}, "holds the placeholder"},
		{"a Secret manifest with placeholders applied again", func(t *testing.T, tr tree, s map[string]string) {
			tr["k8s/secret.yaml"] = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: image-worker-old-secrets\n  labels:\n    app.kubernetes.io/name: image-worker\n    app.kubernetes.io/part-of: bookcovers\nstringData:\n  IMAGE_SIGNING_KEYS: REPLACE-ME\n"
			tr.replace(t, "k8s/kustomization.yaml", "  - networkpolicy.yaml\n", "  - networkpolicy.yaml\n  - secret.yaml\n")
		}, "holds the placeholder"},
		{"a secret missing from secrets.env", func(t *testing.T, tr tree, s map[string]string) {
			delete(s, "PEER_SECRET")
		}, "want those of k8s/secrets.env.example"},
		{"a manifest not listed in resources", func(t *testing.T, tr tree, s map[string]string) {
			tr["k8s/extra.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n"
		}, "k8s/extra.yaml is not listed"},
		{"a resource dropped from resources", func(t *testing.T, tr tree, s map[string]string) {
			tr.replace(t, "k8s/kustomization.yaml", "  - pdb.yaml\n", "")
		}, "k8s/pdb.yaml is not listed"},
		{"a Service selecting no pod", func(t *testing.T, tr tree, s map[string]string) {
			tr.replace(t, "k8s/service.yaml", "  selector:\n    app.kubernetes.io/name: image-worker", "  selector:\n    app.kubernetes.io/name: image-worker-old")
		}, "Service/image-worker selector"},
		{"the Deployment's image renamed, not the mapping", func(t *testing.T, tr tree, s map[string]string) {
			tr.replace(t, "k8s/deployment.yaml", "image: image-worker\n", "image: covers/image-worker\n")
		}, `runs image "covers/image-worker"`},
		{"no image mapping", func(t *testing.T, tr tree, s map[string]string) {
			tr.replace(t, "k8s/kustomization.yaml", "  - name: image-worker\n    newName:", "  - name: covers\n    newName:")
		}, "images has no newName for image-worker"},
		{"replicas above the autoscaler's maximum", func(t *testing.T, tr tree, s map[string]string) {
			tr.replace(t, "k8s/kustomization.yaml", "    count: 3", "    count: 30")
		}, "replicas 30 outside"},
		{"pods without the app label", func(t *testing.T, tr tree, s map[string]string) {
			tr.replace(t, "k8s/pdb.yaml", "  labels:\n    app.kubernetes.io/name: image-worker\n", "  labels:\n")
		}, "PodDisruptionBudget/image-worker labels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, s := shipped.clone(), maps.Clone(secrets)
			tt.breakf(t, tr, s)
			if _, ok := tr[secretsFile]; !ok {
				tr[secretsFile] = envFile(s)
			}
			objs, err := render(tr, baseDir)
			if err != nil {
				t.Fatalf("kustomize build of the broken copy: %v", err)
			}
			problems := check(tr, builds[0], objs, s)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("problems %q, want one containing %q", problems, tt.want)
			}
		})
	}
}
