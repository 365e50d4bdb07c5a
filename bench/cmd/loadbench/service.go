package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// service is one running image-worker process.
type service struct {
	cmd      *exec.Cmd
	public   string // host:port
	internal string // host:port
	log      *os.File
	done     chan error
}

// freeAddr returns a loopback address nothing listens on (for a moment).
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startService starts the binary with env (plus fresh listen addresses) and
// waits until /ready answers 200. Its log goes to logPath.
func startService(ctx context.Context, bin string, env map[string]string, logPath string) (*service, error) {
	pub, err := freeAddr()
	if err != nil {
		return nil, err
	}
	in, err := freeAddr()
	if err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{"LISTEN_ADDR=" + pub, "INTERNAL_ADDR=" + in}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &service{cmd: cmd, public: pub, internal: in, log: logf, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-s.done:
			logf.Close()
			return nil, fmt.Errorf("service exited during start (%v); log: %s", err, logPath)
		default:
		}
		if resp, err := http.Get("http://" + in + "/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.stop()
			return nil, fmt.Errorf("service not ready after 60s; log: %s", logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits; SIGKILL after 30 s.
func (s *service) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.log.Close()
}

// metrics scrapes the internal /metrics into name{labels} -> value.
func (s *service) metrics() (map[string]float64, error) {
	resp, err := http.Get("http://" + s.internal + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// renders is the total of covers_transform_renders_total.
func renders(m map[string]float64) float64 {
	var n float64
	for k, v := range m {
		if strings.HasPrefix(k, "covers_transform_renders_total{") {
			n += v
		}
	}
	return n
}

// rssMB reads the peak (VmHWM) and current (VmRSS) resident set of the
// service: its own process plus its render workers (each worker's own peak,
// so the sum is an upper bound of the peak they reached together).
func (s *service) rssMB() (peak, now float64, err error) {
	for i, pid := range append([]int{s.cmd.Process.Pid}, childPIDs(s.cmd.Process.Pid)...) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			if i == 0 {
				return 0, 0, err
			}
			continue // a worker that just exited
		}
		for _, line := range strings.Split(string(b), "\n") {
			for _, f := range []struct {
				prefix string
				dst    *float64
			}{{"VmHWM:", &peak}, {"VmRSS:", &now}} {
				if v, ok := strings.CutPrefix(line, f.prefix); ok {
					kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
					*f.dst += kb / 1024
				}
			}
		}
	}
	return peak, now, nil
}

// childPIDs lists the processes whose parent is pid (the service's render
// workers).
func childPIDs(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	parent := strconv.Itoa(pid)
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		if f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]); len(f) > 1 && f[1] == parent {
			out = append(out, child)
		}
	}
	return out
}

// fetch GETs a URL with net/http and returns the whole answer.
func fetch(url string) (*http.Response, []byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// minio is a MinIO server started with scripts/minio-server.sh.
type minio struct {
	dir, script            string
	endpoint, access, pass string
	started                bool
	pid                    int // 0 when unknown
}

// startMinIO starts a throw-away MinIO on loopback with the repository script.
func startMinIO(repo, dir string) (*minio, error) {
	script := filepath.Join(repo, "scripts", "minio-server.sh")
	cmd := exec.Command("bash", script, "start", dir)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("minio-server.sh start: %w", err)
	}
	m := &minio{dir: dir, script: script, started: true}
	if err := m.readEnv(filepath.Join(dir, "minio.env")); err != nil {
		m.stop()
		return nil, err
	}
	return m, nil
}

// readEnv reads the endpoint and credentials from a minio.env file.
func (m *minio) readEnv(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		switch k {
		case "COVERS_TEST_S3_ENDPOINT":
			m.endpoint = v
		case "COVERS_TEST_S3_ACCESS_KEY":
			m.access = v
		case "COVERS_TEST_S3_SECRET_KEY":
			m.pass = v
		}
	}
	if m.endpoint == "" {
		return errors.New("minio.env has no endpoint")
	}
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(path), "minio.pid")); err == nil {
		m.pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	return nil
}

func (m *minio) stop() {
	if !m.started {
		return
	}
	cmd := exec.Command("bash", m.script, "stop", m.dir)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	_ = cmd.Run()
}

// loopbackOnly refuses an endpoint that is not a literal loopback address.
func loopbackOnly(hostPort string) error {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("endpoint %s: only literal loopback addresses are allowed", hostPort)
	}
	return nil
}

// profile fetches a CPU profile of d seconds from the internal listener
// (PPROF=true) into path; the returned function waits for it.
func (s *service) profile(path string, d time.Duration) func() error {
	return profileURL(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.internal, int(d.Seconds())), path)
}

// profileURL fetches a CPU profile into path; the returned function waits for it.
func profileURL(url, path string) func() error {
	done := make(chan error, 1)
	go func() {
		resp, body, err := fetch(url)
		switch {
		case err != nil:
			done <- err
		case resp.StatusCode != 200:
			done <- fmt.Errorf("pprof: %s (is PPROF wired on the internal listener?)", resp.Status)
		default:
			done <- os.WriteFile(path, body, 0o644)
		}
	}()
	return func() error { return <-done }
}

// procCPU is the CPU time (user + system) a process has used, in seconds,
// with that of its children: the live ones (the service's render workers)
// and the ones it has reaped; 0 when it cannot be read.
func procCPU(pid int) float64 {
	total := ownCPU(pid, true)
	for _, c := range childPIDs(pid) {
		total += ownCPU(c, false)
	}
	return total
}

// ownCPU reads utime+stime of a process from /proc, plus cutime+cstime
// (its reaped children) when reaped is set.
func ownCPU(pid int, reaped bool) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // the name may hold spaces
	if len(f) < 15 {
		return 0
	}
	var ticks float64
	fields := []int{11, 12}
	if reaped {
		fields = append(fields, 13, 14)
	}
	for _, i := range fields {
		v, _ := strconv.ParseFloat(f[i], 64)
		ticks += v
	}
	return ticks / 100 // USER_HZ
}

// measured runs fn and charges the CPU time the processes pids used
// meanwhile to the run it returns (in total and per process).
func measured(pids []int, fn func() *run) *run {
	before := make([]float64, len(pids))
	for i, p := range pids {
		if p > 0 {
			before[i] = procCPU(p)
		}
	}
	r := fn()
	r.CPUByPID = map[int]float64{}
	for i, p := range pids {
		if p > 0 {
			d := procCPU(p) - before[i]
			r.CPU += d
			r.CPUByPID[p] += d
		}
	}
	return r
}

func (s *service) pid() int { return s.cmd.Process.Pid }
