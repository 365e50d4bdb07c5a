package testenv

import (
	"fmt"
	"go/build"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// MinIOServer is a MinIO process owned by one test, which may stop and
// restart it on the same address and data directory (fault tests).
type MinIOServer struct {
	S3
	t    testing.TB
	bin  string
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartMinIO starts a private MinIO on a free loopback port. Without the
// binary the test skips, or fails when COVERS_REQUIRE_SERVERS=1.
func StartMinIO(t testing.TB) *MinIOServer {
	t.Helper()
	return startMinIO(t, t.TempDir())
}

// StartMinIOInMemory is StartMinIO with its data on tmpfs (/dev/shm) when
// the machine has one: for tests that write tens of thousands of objects.
func StartMinIOInMemory(t testing.TB) *MinIOServer {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "covers-minio-")
	if err != nil {
		return startMinIO(t, t.TempDir())
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return startMinIO(t, dir)
}

func startMinIO(t testing.TB, dir string) *MinIOServer {
	t.Helper()
	bin, err := exec.LookPath("minio")
	if err != nil {
		bin = filepath.Join(build.Default.GOPATH, "bin", "minio")
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("COVERS_REQUIRE_SERVERS") == "1" {
			t.Fatalf("minio binary not found (%s) but COVERS_REQUIRE_SERVERS=1", bin)
		}
		t.Skip("minio binary not installed: run `make test`")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	m := &MinIOServer{S3: S3{Endpoint: addr, AccessKey: "faulttest", SecretKey: "faulttest-secret-key"}, t: t, bin: bin, dir: dir}
	m.Start()
	t.Cleanup(m.Stop)
	return m
}

// Start (re)starts the server and waits until it is ready.
func (m *MinIOServer) Start() {
	m.t.Helper()
	m.cmd = exec.Command(m.bin, "server", filepath.Join(m.dir, "data"), "--quiet", "--address", m.Endpoint, "--console-address", "127.0.0.1:0")
	m.cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+m.AccessKey, "MINIO_ROOT_PASSWORD="+m.SecretKey, "MINIO_BROWSER=off", "MINIO_UPDATE=off")
	if err := m.cmd.Start(); err != nil {
		m.t.Fatalf("start minio: %v", err)
	}
	m.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(m.cmd, m.done)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(fmt.Sprintf("http://%s/minio/health/ready", m.Endpoint))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.t.Fatalf("minio on %s not ready in 60s", m.Endpoint)
}

// Stop kills the server and waits for it to exit.
func (m *MinIOServer) Stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	<-m.done
	m.cmd = nil
}

// Pause stops the server with SIGSTOP: it keeps its port, and the kernel
// still accepts connections, but nothing answers (a hung store). Resume
// continues it; the test also resumes it on cleanup, before the cleanups
// registered earlier run (the service's shutdown, then Stop).
func (m *MinIOServer) Pause() {
	m.t.Helper()
	if m.cmd == nil || m.cmd.Process == nil {
		m.t.Fatal("pause minio: not running")
	}
	if err := m.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		m.t.Fatalf("pause minio: %v", err)
	}
	m.t.Cleanup(m.Resume)
}

// Resume continues a paused server (SIGCONT); it does nothing otherwise.
func (m *MinIOServer) Resume() {
	if m.cmd != nil && m.cmd.Process != nil {
		_ = m.cmd.Process.Signal(syscall.SIGCONT)
	}
}
