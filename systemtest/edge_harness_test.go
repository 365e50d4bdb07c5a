package systemtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/image/webp"

	"github.com/bookcovers/image-worker/internal/replica"
	"github.com/bookcovers/image-worker/internal/testenv"
)

// The CDN-edge tests run Debian's nginx on deploy/nginx/cdn.conf, rewritten
// only where the file says "per deployment", in front of the real binary.

const cdnConfPath = "../deploy/nginx/cdn.conf"

// edgeMainConf is the process-level nginx.conf around cdn.conf: everything
// the process writes (pid, logs, temp files, cache) stays in dir.
const edgeMainConf = `%[1]s
worker_processes 2;
daemon off;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 1024; }
http {
    client_body_temp_path %[2]s/tmp/body;
    proxy_temp_path %[2]s/tmp/proxy;
    fastcgi_temp_path %[2]s/tmp/fastcgi;
    uwsgi_temp_path %[2]s/tmp/uwsgi;
    scgi_temp_path %[2]s/tmp/scgi;
    include %[2]s/cdn.conf;
}
`

var upstreamLine = regexp.MustCompile(`(?m)^[ \t]*server image-worker-\d+:8000\b([^;\n]*);[ \t]*\n`)

// edgeConfig rewrites cdn.conf's three per-deployment values: the replicas
// become origin, the listen port listen, the cache directory cacheDir. It
// refuses a file in which any of them has drifted, and any file that would
// still make nginx resolve a replica's host name.
func edgeConfig(src, origin, listen, cacheDir string) (string, error) {
	var errs []error
	n := 0
	conf := upstreamLine.ReplaceAllStringFunc(src, func(line string) string {
		if n++; n > 1 {
			return ""
		}
		return "    server " + origin + upstreamLine.FindStringSubmatch(line)[1] + ";\n"
	})
	if n == 0 {
		errs = append(errs, errors.New("no `server image-worker-N:8000 ...;` line"))
	}
	for _, r := range []struct{ old, new string }{
		{"proxy_cache_path /var/cache/nginx/covers ", "proxy_cache_path " + cacheDir + " "},
		{"listen 8080;", "listen " + listen + ";"},
	} {
		if c := strings.Count(conf, r.old); c != 1 {
			errs = append(errs, fmt.Errorf("%q occurs %d times, want 1", r.old, c))
			continue
		}
		conf = strings.Replace(conf, r.old, r.new, 1)
	}
	if strings.Contains(conf, "image-worker-") {
		errs = append(errs, errors.New("a replica host name is left: nginx would resolve it"))
	}
	return conf, errors.Join(errs...)
}

func nginxBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	testenv.Unavailable(t, "nginx not installed (apt-get install nginx-light); skipping the CDN-edge test")
	return ""
}

// edge is one nginx process running cdn.conf in front of one origin.
type edge struct {
	base   string
	client *http.Client
	covers atomic.Int64 // /covers requests this edge answered 200 or 304
}

// startEdge runs nginx on a free loopback port in front of origin and stops
// it (SIGTERM, then SIGKILL to its process group) when the test ends.
func startEdge(t *testing.T, origin string) *edge {
	t.Helper()
	return startEdgeWith(t, origin, nil)
}

// startEdgeWith is startEdge with cdn.conf's optional per-deployment
// values (the CORS origin map) changed by edit.
func startEdgeWith(t *testing.T, origin string, edit func(conf string) (string, error)) *edge {
	t.Helper()
	bin := nginxBinary(t)
	src, err := os.ReadFile(cdnConfPath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	listen := replica.FreeAddr(t)
	conf, err := edgeConfig(string(src), origin, listen, filepath.Join(dir, "cache"))
	if err == nil && edit != nil {
		conf, err = edit(conf)
	}
	if err != nil {
		t.Fatalf("deploy/nginx/cdn.conf: %v", err)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers must reach the cache in our 0700 temp dir
	}
	if err := os.WriteFile(filepath.Join(dir, "cdn.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(fmt.Sprintf(edgeMainConf, user, dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	access, err := os.Create(filepath.Join(dir, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = access, access // access_log /dev/stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	logs := func() string {
		e, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		a, _ := os.ReadFile(filepath.Join(dir, "access.log"))
		return "error.log:\n" + string(e) + "access.log:\n" + string(a)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		access.Close()
		if t.Failed() {
			t.Logf("nginx %s", logs())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", listen, time.Second); err == nil {
			c.Close()
			break
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("nginx exited before listening: %v\n%s", err, logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx not listening on %s after 10s\n%s", listen, logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 128, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &edge{base: "http://" + listen, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

type edgeResponse struct {
	status int
	header http.Header
	body   []byte
}

// get asks the edge for pathAndQuery; it returns an error instead of failing
// so that goroutines may call it.
func (e *edge) get(method, pathAndQuery string, hdr map[string]string) (edgeResponse, error) {
	req, err := http.NewRequest(method, e.base+pathAndQuery, nil)
	if err != nil {
		return edgeResponse{}, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return edgeResponse{}, err
	}
	defer resp.Body.Close()
	if strings.HasPrefix(pathAndQuery, "/covers/") && (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNotModified) {
		e.covers.Add(1)
	}
	b, err := io.ReadAll(resp.Body)
	return edgeResponse{resp.StatusCode, resp.Header, b}, err
}

func (e *edge) mustGet(t *testing.T, pathAndQuery string, hdr map[string]string) edgeResponse {
	t.Helper()
	r, err := e.get(http.MethodGet, pathAndQuery, hdr)
	if err != nil {
		t.Fatalf("GET %s through the edge: %v", pathAndQuery, err)
	}
	return r
}

// wantCover requires a 200 whose body decodes as a WebP of w×h.
func wantCover(t *testing.T, what string, r edgeResponse, w, h int) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("%s = %d (X-Cache-Status %q) %s, want 200", what, r.status, r.header.Get("X-Cache-Status"), r.body)
	}
	img, err := webp.Decode(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("%s: body (%d bytes, %s) does not decode as WebP: %v", what, len(r.body), r.header.Get("Content-Type"), err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Fatalf("%s: WebP is %dx%d, want %dx%d", what, b.Dx(), b.Dy(), w, h)
	}
}

// startBehindEdge imports the baseline photo as book into a new local
// store, runs one replica on it with extra env as the origin and nginx on
// cdn.conf in front of it, and returns both and the cover's version.
func startBehindEdge(t *testing.T, book string, extra map[string]string) (origin *replica.Replica, e *edge, version string) {
	t.Helper()
	nginxBinary(t)
	bin := replica.Build(t)
	data, version := importLocal(t, bin, book)
	in := replica.FreeAddr(t)
	origin = replica.Start(t, bin, map[string]string{"DATA_DIR": data, "IMAGE_SIGNING_KEYS": testKeyHex, "KAFKA_BROKERS": "", "PRERENDER": "", "LOG_LEVEL": "warn",
		"INTERNAL_ADDR": in, "GROUPCACHE_SELF": "http://" + in}, extra)
	return origin, startEdge(t, origin.Public), version
}

var requestSample = regexp.MustCompile(`^covers_http_requests_total\{route="([^"]+)",status="(\d+)"\} (\S+)$`)

// originRequests reads the origin's request counters as "route status" → count.
func originRequests(t *testing.T, r *replica.Replica) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + r.Internal + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if m := requestSample.FindStringSubmatch(sc.Text()); m != nil {
			v, _ := strconv.ParseFloat(m[3], 64)
			out[m[1]+" "+m[2]] += v
		}
	}
	return out
}

// routeTotal sums a route's requests over every status ("" sums every route
// but health).
func routeTotal(m map[string]float64, route string) float64 {
	total := 0.0
	for k, v := range m {
		r, _, _ := strings.Cut(k, " ")
		if r == route || route == "" && r != "health" {
			total += v
		}
	}
	return total
}
