// Package testenv tells tests which real servers and sandboxes `make test`
// started for them. Without them a test skips and says why; with
// COVERS_REQUIRE_SERVERS=1 / COVERS_REQUIRE_NETNS=1 (set by `make test`) it
// fails instead, so nothing is silently skipped under `make test`. WaitFor
// polls until a condition holds, or fails the test after a timeout.
package testenv

import (
	"net"
	"net/netip"
	"os"
	"testing"
)

// S3 is the test MinIO written by scripts/minio-server.sh into minio.env.
type S3 struct{ Endpoint, AccessKey, SecretKey string }

// MinIO returns the test MinIO, skipping (or failing under make test) when
// none runs. The endpoint must be a loopback IP literal.
func MinIO(t testing.TB) S3 {
	t.Helper()
	s := S3{os.Getenv("COVERS_TEST_S3_ENDPOINT"), os.Getenv("COVERS_TEST_S3_ACCESS_KEY"), os.Getenv("COVERS_TEST_S3_SECRET_KEY")}
	if s.Endpoint == "" {
		if os.Getenv("COVERS_REQUIRE_SERVERS") == "1" {
			t.Fatal("COVERS_TEST_S3_ENDPOINT is unset but COVERS_REQUIRE_SERVERS=1: start MinIO with scripts/minio-server.sh")
		}
		t.Skip("MinIO not running: set COVERS_TEST_S3_ENDPOINT or run `make test`")
	}
	host, _, err := net.SplitHostPort(s.Endpoint)
	if a, perr := netip.ParseAddr(host); err != nil || perr != nil || !a.IsLoopback() {
		t.Fatalf("COVERS_TEST_S3_ENDPOINT=%q: tests only talk to a loopback IP literal", s.Endpoint)
	}
	return s
}

// RequireNetNS skips (or, with COVERS_REQUIRE_NETNS=1, fails) unless
// COVERS_NETNS=1 and the process sees only a loopback interface: tests that
// submit non-loopback URLs run only where no packet can leave the machine.
func RequireNetNS(t testing.TB) {
	t.Helper()
	refuse := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("COVERS_REQUIRE_NETNS") == "1" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format+"; run via scripts/netns-test.sh", args...)
	}
	if os.Getenv("COVERS_NETNS") != "1" {
		refuse("COVERS_NETNS=1 not set")
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		refuse("list interfaces: %v", err)
	}
	for _, ifc := range ifaces {
		if ifc.Name != "lo" || ifc.Flags&net.FlagLoopback == 0 {
			refuse("interface %q present: not an isolated network namespace", ifc.Name)
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			refuse("addresses of %s: %v", ifc.Name, err)
		}
		for _, a := range addrs {
			p, err := netip.ParsePrefix(a.String())
			if err != nil || !p.Addr().IsLoopback() {
				refuse("non-loopback address %s on %s", a, ifc.Name)
			}
		}
	}
}

// Unavailable is what a test does when a server or tool it needs is
// missing: it skips, saying why, or, under `make test`
// (COVERS_REQUIRE_SERVERS=1, where every one is installed and started),
// fails.
func Unavailable(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("COVERS_REQUIRE_SERVERS") == "1" {
		t.Fatalf("%s, but COVERS_REQUIRE_SERVERS=1 (make test installs and starts it)", reason)
	}
	t.Skip(reason)
}
