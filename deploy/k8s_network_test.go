package deploy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// usableSecretRE matches a value the service would accept as a PROCESS_TOKENS
// entry or a PEER_SECRET (16+ characters of the bearer token alphabet).
var usableSecretRE = regexp.MustCompile(`^[A-Za-z0-9._~+/-]{16,}=*$`)

// policyPeer is one entry of a NetworkPolicy rule's from list.
type policyPeer struct {
	namespaces map[string]any // namespaceSelector.matchLabels; nil: the policy's own namespace
	pods       map[string]any // podSelector.matchLabels; nil: every pod of those namespaces
	anyNS      bool           // namespaceSelector: {} (every namespace)
	ipBlock    bool
}

// ingressRules maps each port of the policy's ingress rules to who may reach it.
func ingressRules(np map[string]any) (map[int][]policyPeer, []string) {
	var problems []string
	rules := map[int][]policyPeer{}
	for i, r := range listAt(np, "spec", "ingress") {
		from := listAt(r, "from")
		if len(from) == 0 {
			problems = append(problems, fmt.Sprintf("ingress rule %d has no from: it admits every source", i))
		}
		var peers []policyPeer
		for _, f := range from {
			p := policyPeer{namespaces: mapAt(f, "namespaceSelector", "matchLabels"), pods: mapAt(f, "podSelector", "matchLabels"),
				ipBlock: dig(f, "ipBlock") != nil}
			_, hasNS := dig(f, "namespaceSelector").(map[string]any)
			p.anyNS = hasNS && len(p.namespaces) == 0 && dig(f, "namespaceSelector", "matchExpressions") == nil
			if p.ipBlock {
				problems = append(problems, fmt.Sprintf("ingress rule %d admits an ipBlock: name pods and namespaces instead", i))
			}
			if p.anyNS && len(p.pods) == 0 || !p.ipBlock && p.namespaces == nil && !p.anyNS && len(p.pods) == 0 {
				problems = append(problems, fmt.Sprintf("ingress rule %d admits an empty selector (every pod)", i))
			}
			peers = append(peers, p)
		}
		ports := listAt(r, "ports")
		if len(ports) == 0 {
			problems = append(problems, fmt.Sprintf("ingress rule %d names no port: it opens every port", i))
		}
		for _, pt := range ports {
			n, ok := intAt(pt, "port")
			if !ok {
				problems = append(problems, fmt.Sprintf("ingress rule %d: port %v, want a number", i, dig(pt, "port")))
				continue
			}
			rules[n] = append(rules[n], peers...)
		}
	}
	return rules, problems
}

// checkNetworkPolicy: the pods admit connections on the public port from the
// edge only (a namespace or pods that are not the replicas themselves), and
// on the internal port from the replicas (same namespace) and a metrics
// scraper named by both namespace and pod labels; no other port, no
// catch-all source.
func checkNetworkPolicy(np map[string]any, podLabels map[string]any, listen, internal int) []string {
	var problems []string
	if !subset(mapAt(np, "spec", "podSelector", "matchLabels"), podLabels) {
		problems = append(problems, fmt.Sprintf("podSelector %v does not select the pods %v", mapAt(np, "spec", "podSelector", "matchLabels"), podLabels))
	}
	if types := listAt(np, "spec", "policyTypes"); !slices.Contains(types, any("Ingress")) {
		problems = append(problems, fmt.Sprintf("policyTypes %v, want Ingress", types))
	}
	rules, ruleProblems := ingressRules(np)
	problems = append(problems, ruleProblems...)
	for port := range rules {
		if port != listen && port != internal {
			problems = append(problems, fmt.Sprintf("port %d is opened; only %d and %d are served", port, listen, internal))
		}
	}
	isReplica := func(p policyPeer) bool { return p.namespaces == nil && !p.anyNS && subset(p.pods, podLabels) }

	edge := rules[listen]
	if len(edge) == 0 {
		problems = append(problems, fmt.Sprintf("public port %d: no source admitted, want the edge", listen))
	}
	hasEdge := false
	for _, p := range edge {
		if isReplica(p) {
			problems = append(problems, fmt.Sprintf("public port %d admits the replicas themselves; peers use %d", listen, internal))
		}
		if len(p.namespaces) > 0 || len(p.pods) > 0 && !isReplica(p) {
			hasEdge = true
		}
	}
	if !hasEdge {
		problems = append(problems, fmt.Sprintf("public port %d: no edge (namespace or pod selector) admitted", listen))
	}

	peers, scraper := false, false
	for _, p := range rules[internal] {
		switch {
		case isReplica(p):
			peers = true
		case len(p.namespaces) > 0 && len(p.pods) > 0:
			scraper = true
		default:
			problems = append(problems, fmt.Sprintf("internal port %d admits %+v: only the replicas and a scraper named by namespace and pod labels may reach it", internal, p))
		}
	}
	if !peers {
		problems = append(problems, fmt.Sprintf("internal port %d does not admit the replicas (groupcache peers)", internal))
	}
	if !scraper {
		problems = append(problems, fmt.Sprintf("internal port %d does not admit the metrics scraper (namespaceSelector and podSelector in one entry)", internal))
	}
	return problems
}

func TestK8sNetworkPolicy(t *testing.T) {
	c := loadCluster(t)
	listen, internal := c.listenPort(t), c.internalPort(t)
	nps := c.ofKind("NetworkPolicy")
	if len(nps) != 1 {
		t.Fatalf("%d NetworkPolicies, want 1", len(nps))
	}
	np := nps[0]
	// The Prometheus annotations must name the port the policy opens to the scraper.
	if p, _ := intAt(c.deploy.obj, "spec", "template", "metadata", "annotations", "prometheus.io/port"); p != internal {
		t.Errorf("prometheus.io/port %d, want the internal port %d", p, internal)
	}
	tests := []struct {
		name   string
		breakf func(np map[string]any)
		want   string // "" = no problem; else a substring of one problem
	}{
		{"as shipped", func(map[string]any) {}, ""},
		{"selects other pods", func(np map[string]any) {
			mapAt(np, "spec", "podSelector")["matchLabels"] = map[string]any{"app": "other"}
		}, "does not select the pods"},
		{"internal port from anywhere", func(np map[string]any) {
			delete(listAt(np, "spec", "ingress")[1].(map[string]any), "from")
		}, "admits every source"},
		{"scraper from any namespace", func(np map[string]any) {
			peer := listAt(np, "spec", "ingress")[1].(map[string]any)["from"].([]any)[1].(map[string]any)
			delete(peer, "namespaceSelector")
		}, "only the replicas and a scraper"},
		{"scraper missing", func(np map[string]any) {
			r := listAt(np, "spec", "ingress")[1].(map[string]any)
			r["from"] = r["from"].([]any)[:1]
		}, "metrics scraper"},
		{"peers missing", func(np map[string]any) {
			r := listAt(np, "spec", "ingress")[1].(map[string]any)
			r["from"] = r["from"].([]any)[1:]
		}, "groupcache peers"},
		{"ports unnamed", func(np map[string]any) {
			delete(listAt(np, "spec", "ingress")[0].(map[string]any), "ports")
		}, "opens every port"},
		{"an extra port", func(np map[string]any) {
			r := listAt(np, "spec", "ingress")[1].(map[string]any)
			r["ports"] = append(r["ports"].([]any), map[string]any{"port": 9090})
		}, "port 9090"},
		{"public port from an ipBlock", func(np map[string]any) {
			r := listAt(np, "spec", "ingress")[0].(map[string]any)
			r["from"] = []any{map[string]any{"ipBlock": map[string]any{"cidr": "0.0.0.0/0"}}}
		}, "ipBlock"},
		{"public port to the replicas", func(np map[string]any) {
			r := listAt(np, "spec", "ingress")[0].(map[string]any)
			r["from"] = append(r["from"].([]any), map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "image-worker"}}})
		}, "admits the replicas themselves"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp := clone(t, np.obj)
			tt.breakf(cp)
			problems := checkNetworkPolicy(cp, c.podLabels(), listen, internal)
			if tt.want == "" && len(problems) > 0 {
				t.Errorf("%s: %s", np, strings.Join(problems, "; "))
			}
			if tt.want != "" && !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("broken copy: problems %q, want one containing %q", problems, tt.want)
			}
		})
	}
}
