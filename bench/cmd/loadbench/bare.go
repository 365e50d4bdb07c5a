package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// bareSpec is the answer the bare handler repeats: the bytes and headers
// the service sent for the cached variant (Date is added by net/http).
type bareSpec struct {
	Header http.Header `json:"header"`
	Body   []byte      `json:"body"`
	Pprof  bool        `json:"pprof"` // also serve /debug/pprof/profile
}

// bareMain is `loadbench bare -spec FILE`: a plain net/http server on a free
// loopback port that answers every request with the spec's bytes and headers.
// It prints its address on stdout and exits when stdin closes (its parent,
// the driver, ended).
func bareMain(args []string) error {
	fs := flag.NewFlagSet("bare", flag.ContinueOnError)
	specPath := fs.String("spec", "", "JSON file with the headers and body to serve")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := os.ReadFile(*specPath)
	if err != nil {
		return err
	}
	var spec bareSpec
	if err := json.Unmarshal(b, &spec); err != nil {
		return fmt.Errorf("bare: spec: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if spec.Pprof && r.URL.Path == "/debug/pprof/profile" {
			pprof.Profile(w, r)
			return
		}
		h := w.Header()
		for k, v := range spec.Header {
			h[k] = v
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(spec.Body)
	})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 45 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 16 << 10}
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// bareServer is the running child process.
type bareServer struct {
	cmd   *exec.Cmd
	stdin io.Closer
	addr  string
}

// startBare writes the spec and starts this binary as `loadbench bare`.
func startBare(dir string, spec bareSpec) (*bareServer, error) {
	for _, k := range []string{"Date", "Connection", "Keep-Alive"} {
		spec.Header.Del(k)
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "bare-spec.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "bare", "-spec", path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stdin.Close()
		_ = cmd.Wait()
		return nil, fmt.Errorf("bare server did not start: %w", err)
	}
	return &bareServer{cmd: cmd, stdin: stdin, addr: strings.TrimSpace(line)}, nil
}

func (b *bareServer) pid() int { return b.cmd.Process.Pid }

func (b *bareServer) stop() {
	b.stdin.Close()
	done := make(chan struct{})
	go func() { _ = b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = b.cmd.Process.Kill()
		<-done
	}
}
