package deploy

import (
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Policies of the Kubernetes manifests: security, resources, shutdown,
// autoscaling and the Secret's placeholders.

func TestK8sSecurityAndResources(t *testing.T) {
	c := loadCluster(t)
	pod := mapAt(c.deploy.obj, "spec", "template", "spec")
	sc := func(key string) any {
		if v := dig(c.container, "securityContext", key); v != nil {
			return v
		}
		return dig(pod, "securityContext", key)
	}
	if sc("runAsNonRoot") != true {
		t.Error("runAsNonRoot is not true")
	}
	if uid := fmt.Sprint(sc("runAsUser")); uid == "0" || !strings.HasPrefix(c.facts.imageUser, uid+":") && c.facts.imageUser != uid {
		t.Errorf("runAsUser %s, want the image's USER %s (non-root)", uid, c.facts.imageUser)
	}
	if dig(c.container, "securityContext", "readOnlyRootFilesystem") != true {
		t.Error("readOnlyRootFilesystem is not true")
	}
	if dig(c.container, "securityContext", "allowPrivilegeEscalation") != false {
		t.Error("allowPrivilegeEscalation is not false")
	}
	tmpVolume := ""
	for _, m := range listAt(c.container, "volumeMounts") {
		if str(m, "mountPath") == "/tmp" {
			tmpVolume = str(m, "name")
		}
	}
	isEmptyDir := false
	for _, v := range listAt(pod, "volumes") {
		if str(v, "name") == tmpVolume && dig(v, "emptyDir") != nil {
			isEmptyDir = true
		}
	}
	if !isEmptyDir {
		t.Error("no emptyDir mounted at /tmp (the root filesystem is read-only)")
	}

	res := mapAt(c.container, "resources")
	cpuReq, cpuLim := milliCPU(str(res, "requests", "cpu")), milliCPU(str(res, "limits", "cpu"))
	memReq, memLim := mebibytes(str(res, "requests", "memory")), mebibytes(str(res, "limits", "memory"))
	if cpuReq <= 0 || cpuLim < cpuReq || memReq <= 0 || memLim < memReq {
		t.Errorf("resources %v: want cpu and memory requests and limits, limits >= requests", res)
	}
	cacheMB := 256
	if v, ok := c.env["GROUPCACHE_SIZE_MB"]; ok {
		cacheMB, _ = strconv.Atoi(v)
	}
	renders, err := strconv.Atoi(c.env["MAX_CONCURRENT_TRANSFORMS"])
	if err != nil || renders < 1 || renders*1000 > cpuLim {
		t.Errorf("MAX_CONCURRENT_TRANSFORMS = %q, want set and at most the CPU limit (%dm): the memory limit was measured with that many renders at once", c.env["MAX_CONCURRENT_TRANSFORMS"], cpuLim)
	}
	if need := serverPeakMiB + cacheMB + renders*workerBoundMiB; memLim < need {
		t.Errorf("memory limit %dMi < serving process %dMi + GROUPCACHE_SIZE_MB %d + %d render workers x %dMi = %dMi", memLim, serverPeakMiB, cacheMB, renders, workerBoundMiB, need)
	}
}

func TestK8sShutdownOutlastsDrain(t *testing.T) {
	c := loadCluster(t)
	grace, ok := intAt(c.deploy.obj, "spec", "template", "spec", "terminationGracePeriodSeconds")
	if !ok {
		t.Fatal("terminationGracePeriodSeconds not set")
	}
	preStop := -1
	if cmd := listAt(c.container, "lifecycle", "preStop", "exec", "command"); len(cmd) == 2 && path.Base(fmt.Sprint(cmd[0])) == "sleep" {
		preStop, _ = strconv.Atoi(fmt.Sprint(cmd[1]))
	} else if n, ok := intAt(c.container, "lifecycle", "preStop", "sleep", "seconds"); ok {
		preStop = n
	}
	if preStop <= 0 {
		t.Fatalf("preStop %v: want a sleep of some seconds", dig(c.container, "lifecycle", "preStop"))
	}
	delay := c.facts.shutdownDelaySe
	if v, ok := c.env["SHUTDOWN_DELAY"]; ok {
		delay = int(parseSeconds(t, v))
	}
	if need := preStop + delay + c.facts.drainSeconds; grace <= need {
		t.Errorf("terminationGracePeriodSeconds %d <= preStop %ds + SHUTDOWN_DELAY %ds + drain %ds", grace, preStop, delay, c.facts.drainSeconds)
	}
}

func TestK8sAutoscalingAndDisruption(t *testing.T) {
	c := loadCluster(t)
	replicas := c.replicas
	pdb := c.ofKind("PodDisruptionBudget")[0]
	if !subset(mapAt(pdb.obj, "spec", "selector", "matchLabels"), c.podLabels()) {
		t.Errorf("%s selector does not match the pods", pdb)
	}
	if n, ok := intAt(pdb.obj, "spec", "minAvailable"); ok && n >= replicas {
		t.Errorf("%s minAvailable %d >= replicas %d blocks every drain", pdb, n, replicas)
	} else if !ok && dig(pdb.obj, "spec", "maxUnavailable") == nil {
		t.Errorf("%s: neither minAvailable nor maxUnavailable", pdb)
	}

	hpa := c.ofKind("HorizontalPodAutoscaler")[0]
	so := c.ofKind("ScaledObject")[0]
	for _, d := range []doc{hpa, so} {
		ref := mapAt(d.obj, "spec", "scaleTargetRef")
		if str(ref, "name") != c.deploy.name() || (str(ref, "kind") != "" && str(ref, "kind") != "Deployment") {
			t.Errorf("%s scales %v, want Deployment %s", d, ref, c.deploy.name())
		}
	}
	lo, _ := intAt(hpa.obj, "spec", "minReplicas")
	hi, _ := intAt(hpa.obj, "spec", "maxReplicas")
	if lo < replicas || hi < lo {
		t.Errorf("%s min %d max %d, want replicas %d <= min <= max", hpa, lo, hi, replicas)
	}
	if str(listAt(hpa.obj, "spec", "metrics")[0], "resource", "name") != "cpu" {
		t.Errorf("%s: first metric is not cpu", hpa)
	}
	// Both in the base would make `kubectl apply -k deploy/k8s/` create two
	// autoscalers for one Deployment (KEDA refuses the second); the KEDA
	// component (k8s/keda) replaces the HPA instead.
	if path.Dir(hpa.file) == path.Dir(so.file) {
		t.Errorf("%s and %s are in the same folder", hpa.file, so.file)
	}
	if slices.Contains(listAt(c.kust, "resources"), any(path.Base(so.file))) {
		t.Errorf("k8s/kustomization.yaml lists %s: the base must build without the KEDA CRDs", so.file)
	}

	want := map[string]string{
		"bootstrapServers": c.env["KAFKA_BROKERS"],
		"consumerGroup":    c.env["KAFKA_GROUP_ID"],
		"topic":            c.env["KAFKA_TOPIC"],
	}
	types := map[string]map[string]any{}
	for _, tr := range listAt(so.obj, "spec", "triggers") {
		types[str(tr, "type")] = mapAt(tr, "metadata")
	}
	kafka := types["kafka"]
	if kafka == nil || types["cpu"] == nil {
		t.Fatalf("%s triggers %v, want kafka and cpu", so, types)
	}
	for k, v := range want {
		if v == "" || str(kafka, k) != v {
			t.Errorf("%s kafka %s = %q, want %q (from the ConfigMap)", so, k, str(kafka, k), v)
		}
	}
	if n, err := strconv.Atoi(str(kafka, "lagThreshold")); err != nil || n <= 0 {
		t.Errorf("%s lagThreshold %q, want a positive number", so, str(kafka, "lagThreshold"))
	}
}

// The committed example of secrets.env (k8s/secrets.env.example) holds only
// placeholders the service refuses, so a copy applied unchanged cannot run.
func TestK8sSecretExampleHasOnlyPlaceholders(t *testing.T) {
	c := loadCluster(t)
	var name string
	for _, ef := range listAt(c.container, "envFrom") {
		if n := str(ef, "secretRef", "name"); n != "" {
			name = n
		}
	}
	data := c.generatedSecret(t, name)
	for _, k := range []string{"IMAGE_SIGNING_KEYS", "S3_ACCESS_KEY", "S3_SECRET_KEY", "PROCESS_TOKENS", "PEER_SECRET"} {
		v, ok := data[k]
		if !ok {
			t.Errorf("secrets.env.example has no %s", k)
		} else if !strings.Contains(v, "REPLACE") {
			t.Errorf("secrets.env.example %s = %q, want a REPLACE placeholder", k, v)
		}
	}
	// A value that parses as a key would let a cluster run on a key printed here.
	for _, k := range strings.Split(data["IMAGE_SIGNING_KEYS"], ",") {
		if _, err := hex.DecodeString(strings.TrimSpace(k)); err == nil {
			t.Errorf("secrets.env.example IMAGE_SIGNING_KEYS holds a usable hex key")
		}
	}
	// Likewise a token or peer secret the service would accept (bearer token
	// alphabet, no spaces): the placeholders must make it refuse to start.
	for _, tok := range strings.Split(data["PROCESS_TOKENS"], ",") {
		if usableSecretRE.MatchString(strings.TrimSpace(tok)) {
			t.Errorf("secrets.env.example PROCESS_TOKENS holds a usable token %q", tok)
		}
	}
	if usableSecretRE.MatchString(strings.TrimSpace(data["PEER_SECRET"])) {
		t.Errorf("secrets.env.example PEER_SECRET %q would be accepted", data["PEER_SECRET"])
	}
	// The real file never enters the repository (nor the image's build context).
	for _, f := range []string{"../.gitignore", "../.dockerignore"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		if !slices.Contains(lines, "deploy/k8s/secrets.env") && !slices.Contains(lines, "/deploy/k8s/secrets.env") {
			t.Errorf("%s has no line deploy/k8s/secrets.env: the operator's secrets could be committed or copied into the build", f)
		}
	}
}
