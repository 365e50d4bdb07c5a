package replica

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pkg is the binary's package: go build finds it from any directory of the module.
const pkg = "github.com/bookcovers/image-worker/cmd/image-worker"

// build builds the binary once per test process.
var build = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "image-worker-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "image-worker")
	out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// Build returns the path of the binary built from cmd/image-worker, building
// it the first time; a failed build fails the test.
func Build(t testing.TB) string {
	t.Helper()
	bin, err := build()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// FreeAddr returns a loopback host:port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

var imported = regexp.MustCompile(`as book \S+ version (\S+) \(`)

// Import runs `bin import --book book file` with exactly env and returns the
// version the command printed; a failed import fails the test.
func Import(t testing.TB, bin string, env map[string]string, book, file string) (version string) {
	t.Helper()
	cmd := exec.Command(bin, "import", "--book", book, file)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	m := imported.FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("import %s: %v %s, want \"... version V (WxH)\"", book, err, out)
	}
	return string(m[1])
}

// Replica is one running `image-worker serve`.
type Replica struct {
	Public, Internal string // the listeners' host:port

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit, once done is closed
}

// Start runs `bin serve` with the env maps merged (a later one wins), PATH,
// and LISTEN_ADDR and INTERNAL_ADDR on free loopback ports unless env names
// them, and waits up to 20s until /health answers 200. The test kills it
// when it ends. Its log goes to the test's log under -v.
func Start(t testing.TB, bin string, env ...map[string]string) *Replica {
	t.Helper()
	vars := map[string]string{}
	for _, e := range env {
		for k, v := range e {
			vars[k] = v
		}
	}
	for _, k := range []string{"LISTEN_ADDR", "INTERNAL_ADDR"} {
		if _, ok := vars[k]; !ok {
			vars[k] = FreeAddr(t)
		}
	}
	r := &Replica{Public: vars["LISTEN_ADDR"], Internal: vars["INTERNAL_ADDR"], done: make(chan struct{})}
	r.cmd = exec.Command(bin, "serve")
	r.cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range vars {
		r.cmd.Env = append(r.cmd.Env, k+"="+v)
	}
	r.cmd.Stderr = &LogWriter{T: t}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.err = r.cmd.Wait(); close(r.done) }()
	t.Cleanup(r.Kill)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + r.Public + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return r
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("replica on %s did not become healthy", r.Public)
	return nil
}

// Pid is the serving process's id (its render workers are its children).
func (r *Replica) Pid() int { return r.cmd.Process.Pid }

// Kill stops the process with SIGKILL (nothing is released or flushed) and
// waits until it has exited. Killing an exited replica does nothing.
func (r *Replica) Kill() {
	_ = r.cmd.Process.Kill()
	<-r.done
}

// Terminate sends SIGTERM and waits up to timeout for the process to exit:
// exited says whether it did, err is its exit (nil for status 0).
func (r *Replica) Terminate(timeout time.Duration) (exited bool, err error) {
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
		return true, r.err
	case <-time.After(timeout):
		return false, nil
	}
}

// Metric reads one sample (name with labels, exactly as exposed) from the
// internal listener's /metrics; 0 when it is not there.
func (r *Replica) Metric(t testing.TB, sample string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + r.Internal + "/metrics")
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

// LogWriter writes a process's output to the test's log under -v, and
// drops it otherwise.
type LogWriter struct{ T testing.TB }

func (w *LogWriter) Write(p []byte) (int, error) {
	if testing.Verbose() {
		w.T.Logf("%s", strings.TrimSpace(string(p)))
	}
	return len(p), nil
}
