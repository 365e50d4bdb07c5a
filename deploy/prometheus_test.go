package deploy

import (
	"encoding/json"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// alertRule is one alerting rule of prometheus/alerts.yaml.
type alertRule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func loadAlerts(t *testing.T) []alertRule {
	t.Helper()
	var f struct {
		Groups []struct {
			Rules []alertRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal([]byte(readRepo(t, "deploy/prometheus/alerts.yaml")), &f); err != nil {
		t.Fatalf("decode prometheus/alerts.yaml: %v", err)
	}
	var out []alertRule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatal("prometheus/alerts.yaml has no rules")
	}
	return out
}

// requirePromtool finds Debian's promtool (make deps-test installs it).
func requirePromtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		skipOrFail(t, "promtool not installed (apt-get install prometheus, or run `make test`)")
	}
	return p
}

// TestAlertRulesPassPromtool runs `promtool check rules` on the rule file
// and `promtool test rules` on its unit tests.
func TestAlertRulesPassPromtool(t *testing.T) {
	promtool := requirePromtool(t)
	for _, args := range [][]string{
		{"check", "rules", "prometheus/alerts.yaml"},
		{"test", "rules", "prometheus/alerts_test.yaml"},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
			continue
		}
		t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
	}
}

var metricName = regexp.MustCompile(`\bcovers_[a-z0-9_]+`)

// TestAlertRulesAreTestedAndHaveRunbooks: every alert fires in a unit test
// and stays quiet in another, has a severity, a summary and a runbook_url
// naming its section of docs/operations.md, and uses only metrics that
// docs/metrics.md lists.
func TestAlertRulesAreTestedAndHaveRunbooks(t *testing.T) {
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal([]byte(readRepo(t, "deploy/prometheus/alerts_test.yaml")), &tests); err != nil {
		t.Fatalf("decode prometheus/alerts_test.yaml: %v", err)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	ops := readRepo(t, "docs/operations.md")
	metricsDoc := readRepo(t, "docs/metrics.md")
	const runbookBase = "https://github.com/bookcovers/image-worker/blob/main/docs/operations.md#"
	for _, r := range loadAlerts(t) {
		if !fires[r.Alert] || !quiet[r.Alert] {
			t.Errorf("alert %s: a unit test where it fires %v, one where it stays quiet %v; want both", r.Alert, fires[r.Alert], quiet[r.Alert])
		}
		if s := r.Labels["severity"]; s != "critical" && s != "warning" {
			t.Errorf("alert %s: severity %q, want critical or warning", r.Alert, s)
		}
		if r.Annotations["summary"] == "" {
			t.Errorf("alert %s has no summary", r.Alert)
		}
		if want := runbookBase + strings.ToLower(r.Alert); r.Annotations["runbook_url"] != want {
			t.Errorf("alert %s: runbook_url %q, want %q", r.Alert, r.Annotations["runbook_url"], want)
		}
		if !strings.Contains(ops, "\n### "+r.Alert+"\n") {
			t.Errorf("docs/operations.md has no runbook section \"### %s\"", r.Alert)
		}
		for _, m := range metricName.FindAllString(r.Expr, -1) {
			fam := strings.TrimSuffix(m, "_bucket")
			if !strings.Contains(metricsDoc, "| `"+fam+"` |") {
				t.Errorf("alert %s uses %s, which docs/metrics.md does not list", r.Alert, m)
			}
		}
	}
}

// TestK8sPodMonitor: the PodMonitor selects the Deployment's pods and
// scrapes /metrics on the named container port of INTERNAL_ADDR.
func TestK8sPodMonitor(t *testing.T) {
	c := loadCluster(t)
	pm := c.one(t, "PodMonitor", "image-worker")
	if sel := mapAt(pm.obj, "spec", "selector", "matchLabels"); len(sel) == 0 || !subset(sel, c.podLabels()) {
		t.Errorf("%s: selector %v does not select the pod labels %v", pm, sel, c.podLabels())
	}
	eps := listAt(pm.obj, "spec", "podMetricsEndpoints")
	if len(eps) != 1 {
		t.Fatalf("%s: %d podMetricsEndpoints, want 1", pm, len(eps))
	}
	ep := eps[0]
	if got, want := c.containerPort(str(ep, "port")), c.internalPort(t); got != want {
		t.Errorf("%s: port %q is container port %d, want the internal port %d", pm, str(ep, "port"), got, want)
	}
	if p := str(ep, "path"); p != "/metrics" {
		t.Errorf("%s: path %q, want /metrics", pm, p)
	}
	if !slices.Contains(c.facts.getRoutes, "/metrics") {
		t.Errorf("proxy/routes.go registers no GET /metrics (routes %v)", c.facts.getRoutes)
	}
}

// TestGrafanaDashboardIsWellFormed: the dashboard decodes, panel ids are
// unique, every panel but a row has a query on the datasource variable, and
// every covers_* metric it names is documented. (That each query returns
// data is TestPrometheusScrapesTheService's job, against a real Prometheus.)
func TestGrafanaDashboardIsWellFormed(t *testing.T) {
	type target struct {
		Expr       string `json:"expr"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
	}
	type panel struct {
		ID      int      `json:"id"`
		Title   string   `json:"title"`
		Type    string   `json:"type"`
		Panels  []panel  `json:"panels"`
		Targets []target `json:"targets"`
	}
	var d struct {
		UID        string  `json:"uid"`
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name, Type string
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal([]byte(readRepo(t, "deploy/grafana/dashboard.json")), &d); err != nil {
		t.Fatalf("decode grafana/dashboard.json: %v", err)
	}
	if len(d.Templating.List) == 0 || d.Templating.List[0].Name != "datasource" || d.Templating.List[0].Type != "datasource" {
		t.Errorf("templating = %+v, want a datasource variable named datasource", d.Templating.List)
	}
	metricsDoc := readRepo(t, "docs/metrics.md")
	ids := map[int]string{}
	queries := 0
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if other, dup := ids[p.ID]; dup {
				t.Errorf("panels %q and %q share id %d", other, p.Title, p.ID)
			}
			ids[p.ID] = p.Title
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				queries++
				if tg.Datasource.UID != "${datasource}" {
					t.Errorf("panel %q: datasource uid %q, want ${datasource}", p.Title, tg.Datasource.UID)
				}
				for _, m := range metricName.FindAllString(tg.Expr, -1) {
					if fam := strings.TrimSuffix(m, "_bucket"); !strings.Contains(metricsDoc, "| `"+fam+"` |") {
						t.Errorf("panel %q uses %s, which docs/metrics.md does not list", p.Title, m)
					}
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	if queries == 0 {
		t.Error("the dashboard has no queries")
	}
}
