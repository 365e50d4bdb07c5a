package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds the real image-worker once per test binary.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "image-worker-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "image-worker")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type replica struct {
	cmd              *exec.Cmd
	public, internal string
}

// importLocal imports testdata's 1600x2400 photo as bookID into a new local
// store with the built binary, and returns the store's DATA_DIR and the
// cover's version.
func importLocal(t *testing.T, bin, bookID string) (dataDir, version string) {
	t.Helper()
	dataDir = t.TempDir()
	imp := exec.Command(bin, "import", "--book", bookID, "../../testdata/photo-1600x2400-baseline.jpg")
	imp.Env = []string{"DATA_DIR=" + dataDir, "IMAGE_SIGNING_KEYS=" + testKeyHex}
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("import: %v %s", err, out)
	}
	sum := sha256.Sum256(readTestdata(t, "photo-1600x2400-baseline.jpg"))
	return dataDir, hex.EncodeToString(sum[:])[:12]
}

// signedGetter returns a function that GETs a cover path, signed with the
// test key, from a replica's public port and returns the status (-1 when
// the replica does not answer).
func signedGetter(t *testing.T) func(r *replica, path string) int {
	signer := startServiceSigner(t, testKeyHex)
	return func(r *replica, path string) int {
		resp, err := http.Get("http://" + r.public + path + "?sig=" + signer.Sign(path, nil))
		if err != nil {
			return -1
		}
		resp.Body.Close()
		return resp.StatusCode
	}
}

// startReplica runs the built binary with env and waits until /health answers.
func startReplica(t *testing.T, bin string, env map[string]string) *replica {
	t.Helper()
	r := &replica{public: env["LISTEN_ADDR"], internal: env["INTERNAL_ADDR"]}
	r.cmd = exec.Command(bin, "serve")
	r.cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		r.cmd.Env = append(r.cmd.Env, k+"="+v)
	}
	r.cmd.Stderr = &testLogWriter{t: t}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.cmd.Process.Kill(); _ = r.cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + r.public + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return r
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("replica on %s did not become healthy", r.public)
	return nil
}

// metric reads one sample (name with labels, exactly) from /metrics.
func (r *replica) metric(t *testing.T, sample string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + r.internal + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

type testLogWriter struct{ t *testing.T }

func (w *testLogWriter) Write(p []byte) (int, error) {
	if testing.Verbose() {
		w.t.Logf("%s", strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// TestBinaryPeersRenderOnce runs two real processes as groupcache peers on
// one store: the same variant asked of both is rendered once in total, the
// peer protocol is on the internal listener only, and SIGTERM stops cleanly.
func TestBinaryPeersRenderOnce(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	base := map[string]string{"DATA_DIR": data, "IMAGE_SIGNING_KEYS": testKeyHex, "KAFKA_BROKERS": "", "PRERENDER": "", "LOG_LEVEL": "warn", "SHUTDOWN_DELAY": "0s"}
	imp := exec.Command(bin, "import", "--book", "PEER1", "../../testdata/photo-1600x2400-baseline.jpg")
	imp.Env = []string{"DATA_DIR=" + data, "IMAGE_SIGNING_KEYS=" + testKeyHex}
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("import: %v %s", err, out)
	}
	in1, in2 := freeAddr(t), freeAddr(t)
	reps := make([]*replica, 2)
	for i, self := range []string{in1, in2} {
		env := map[string]string{"LISTEN_ADDR": freeAddr(t), "INTERNAL_ADDR": self,
			"GROUPCACHE_SELF": "http://" + self, "GROUPCACHE_PEERS": "http://" + in1 + ",http://" + in2}
		for k, v := range base {
			env[k] = v
		}
		reps[i] = startReplica(t, bin, env)
	}
	signer := startServiceSigner(t, testKeyHex)
	for _, size := range []string{"320", "321", "322", "323"} {
		path := "/covers/PEER1/" + size + ".webp"
		for _, r := range reps {
			resp, body := do(t, http.MethodGet, "http://"+r.public+path+"?sig="+signer.Sign(path, nil), nil)
			if resp.StatusCode != 200 || len(body) == 0 {
				t.Fatalf("GET %s on %s = %d", path, r.public, resp.StatusCode)
			}
		}
	}
	total := 0.0
	for _, r := range reps {
		total += r.metric(t, `covers_transform_renders_total{format="webp",result="ok"}`)
	}
	if total != 4 {
		t.Errorf("4 variants asked of both peers rendered %v times in total, want 4", total)
	}
	// Through the peers, the second replica gets each variant from its owner's
	// memory; without them it would read it back from the shared store.
	storeHits := 0.0
	for _, r := range reps {
		storeHits += r.metric(t, `covers_cache_lookups_total{layer="store",result="hit"}`)
	}
	if storeHits != 0 {
		t.Errorf("store hits = %v, want 0 (variants should come from the owning peer)", storeHits)
	}
	if resp, _ := do(t, http.MethodGet, "http://"+reps[0].public+"/_groupcache/covers/x", nil); resp.StatusCode != 404 {
		t.Errorf("peer protocol on the public port = %d, want 404", resp.StatusCode)
	}
	_ = reps[0].cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- reps[0].cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("SIGTERM exit = %v, want 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("no exit 30s after SIGTERM")
	}
}
