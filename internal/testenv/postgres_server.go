package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// PostgresServer is a PostgreSQL cluster owned by one test, which may stop
// and start it again on the same loopback port and data directory (fault
// tests). It runs as scripts/postgres-server.sh runs it: initdb and pg_ctl
// from Debian's server package, trust authentication, loopback only; as
// root, as the postgres user.
type PostgresServer struct {
	// URL is the connection URL: postgres://postgres@127.0.0.1:PORT/postgres.
	URL  string
	t    testing.TB
	bin  string // directory holding initdb and pg_ctl
	dir  string // the cluster's directory: pgdata, socket, log
	port int
	asPG bool // run the binaries as the postgres user (we are root)
}

// StartPostgres creates and starts a private cluster in a fresh directory
// under /tmp on a free loopback port, and removes it when the test ends.
// Without the server binaries the test skips, or fails when
// COVERS_REQUIRE_SERVERS=1.
func StartPostgres(t testing.TB) *PostgresServer {
	t.Helper()
	refuse := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("COVERS_REQUIRE_SERVERS") == "1" {
			t.Fatalf(format+" but COVERS_REQUIRE_SERVERS=1", args...)
		}
		t.Skipf(format+": run `make test`", args...)
	}
	bin := postgresBinDir()
	if bin == "" {
		refuse("PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin")
	}
	p := &PostgresServer{t: t, bin: bin, asPG: os.Geteuid() == 0}
	dir, err := os.MkdirTemp("/tmp", "covers-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p.dir = dir
	t.Cleanup(func() { p.Stop(); os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if p.asPG {
		// PostgreSQL refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			refuse("running as root without a postgres user (the Debian postgresql package creates it)")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	p.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
	p.run("initdb", "-D", p.data(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync")
	p.Start()
	return p
}

// Start starts the cluster and waits until it accepts connections.
func (p *PostgresServer) Start() {
	p.t.Helper()
	// Commits reach the kernel before they return (synchronous_commit stays
	// on), so an immediate stop, which loses PostgreSQL's own buffers, keeps
	// them; fsync is off, the machine does not crash in a test.
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c full_page_writes=off", p.port, p.dir)
	p.run("pg_ctl", "-D", p.data(), "-l", filepath.Join(p.dir, "pg.log"), "-w", "-t", "60", "-o", opts, "start")
}

// Stop stops the cluster at once (pg_ctl stop -m immediate): connections
// drop as they would if the database host failed. Stopping a stopped
// cluster does nothing.
func (p *PostgresServer) Stop() {
	p.t.Helper()
	if _, err := os.Stat(filepath.Join(p.data(), "postmaster.pid")); err != nil {
		return
	}
	p.run("pg_ctl", "-D", p.data(), "stop", "-m", "immediate", "-w")
}

func (p *PostgresServer) data() string { return filepath.Join(p.dir, "pgdata") }

// run runs one of the server binaries as the cluster owner and fails the
// test with its output (and the log's tail) when it fails.
func (p *PostgresServer) run(name string, args ...string) {
	p.t.Helper()
	argv := append([]string{filepath.Join(p.bin, name)}, args...)
	if p.asPG {
		argv = append([]string{"runuser", "-u", "postgres", "--"}, argv...)
	}
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "pg.log"))
		p.t.Fatalf("%s: %v\n%s\npg.log:\n%s", name, err, out, tail(log, 40))
	}
}

// postgresBinDir returns the newest /usr/lib/postgresql/<version>/bin that
// holds initdb and pg_ctl, or "".
func postgresBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if isFile(filepath.Join(d, "initdb")) && isFile(filepath.Join(d, "pg_ctl")) {
			return d
		}
	}
	return ""
}

func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	end := len(b)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' && i != len(b)-1 {
			n--
			if n == 0 {
				return string(b[i+1 : end])
			}
		}
	}
	return string(b)
}
