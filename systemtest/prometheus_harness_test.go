package systemtest

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/internal/replica"
	"github.com/bookcovers/image-worker/internal/testenv"
)

// requireTool finds one of Debian's prometheus package's binaries
// (installed by make deps-test): without it the test skips, or fails when
// COVERS_REQUIRE_SERVERS=1.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		testenv.Unavailable(t, name+" not installed: apt-get install prometheus, or run `make test`")
	}
	return p
}

// promServer is a Prometheus server owned by one test: on a free loopback
// port, with its own configuration and storage in a temp dir, scraping
// targets every second and evaluating rule files every second.
type promServer struct {
	base string // http://127.0.0.1:port
	cmd  *exec.Cmd
	done chan struct{}
}

// startPrometheus starts Prometheus scraping the /metrics of the targets
// (host:port, loopback) and loading ruleFiles, and waits until it is ready.
// The test stops it (SIGTERM, then SIGKILL).
func startPrometheus(t *testing.T, targets []string, ruleFiles ...string) *promServer {
	t.Helper()
	bin := requireTool(t, "prometheus")
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n")
	if len(ruleFiles) > 0 {
		cfg.WriteString("rule_files:\n")
		for _, f := range ruleFiles {
			abs, err := filepath.Abs(f)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&cfg, "  - %q\n", abs)
		}
	}
	cfg.WriteString("scrape_configs:\n  - job_name: image-worker\n    metrics_path: /metrics\n    static_configs:\n      - targets: [")
	for i, tg := range targets {
		if !strings.HasPrefix(tg, "127.") {
			t.Fatalf("scrape target %s is not on loopback", tg)
		}
		if i > 0 {
			cfg.WriteString(", ")
		}
		fmt.Fprintf(&cfg, "%q", tg)
	}
	cfg.WriteString("]\n")
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := replica.FreeAddr(t)
	p := &promServer{base: "http://" + addr, done: make(chan struct{})}
	p.cmd = exec.Command(bin,
		"--config.file="+cfgFile,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--storage.tsdb.retention.time=1h",
		"--web.listen-address="+addr,
		"--web.console.templates="+dir, "--web.console.libraries="+dir,
		"--log.level=warn",
	)
	p.cmd.Stderr = &replica.LogWriter{T: t}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.stop)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("prometheus exited before it was ready (config:\n%s)", cfg.String())
		default:
		}
		if resp, err := http.Get(p.base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("prometheus on %s not ready in 30s", addr)
	return nil
}

func (p *promServer) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// promSample is one element of an instant vector.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// value is the sample's value as a number (NaN when it is not one).
func (s promSample) value() float64 {
	str, _ := s.Value[1].(string)
	f, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

// query runs an instant query through the HTTP API and returns its vector.
func (p *promServer) query(expr string) ([]promSample, error) {
	resp, err := http.Get(p.base + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("query %s: %d %s", expr, resp.StatusCode, b)
	}
	if out.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", expr, out.Error)
	}
	if out.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %s: result type %s, want vector", expr, out.Data.ResultType)
	}
	var v []promSample
	if err := json.Unmarshal(out.Data.Result, &v); err != nil {
		return nil, fmt.Errorf("query %s: %v", expr, err)
	}
	return v, nil
}

// get decodes the data of a GET API call (targets, rules, metadata).
func (p *promServer) get(path string, data any) error {
	resp, err := http.Get(p.base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Status != "success" {
		return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return json.Unmarshal(out.Data, data)
}
