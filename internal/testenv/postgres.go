package testenv

import (
	"net"
	"net/netip"
	"net/url"
	"os"
	"testing"
)

// Postgres returns the connection URL of the test PostgreSQL written by
// scripts/postgres-server.sh into postgres.env (COVERS_TEST_PG_URL), skipping
// (or failing under make test) when none runs. The URL must name exactly one
// loopback IP literal with a port, and no host override in its query.
func Postgres(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("COVERS_TEST_PG_URL")
	if dsn == "" {
		if os.Getenv("COVERS_REQUIRE_SERVERS") == "1" {
			t.Fatal("COVERS_TEST_PG_URL is unset but COVERS_REQUIRE_SERVERS=1: start PostgreSQL with scripts/postgres-server.sh")
		}
		t.Skip("PostgreSQL not running: set COVERS_TEST_PG_URL or run `make test`")
	}
	// The value holds no password (trust auth), but do not echo it anyway.
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatal("COVERS_TEST_PG_URL: want postgres://user@127.0.0.1:port/db")
	}
	host, _, err := net.SplitHostPort(u.Host)
	a, perr := netip.ParseAddr(host)
	q := u.Query()
	if err != nil || perr != nil || !a.IsLoopback() || q.Has("host") || q.Has("hostaddr") || q.Has("service") {
		t.Fatalf("COVERS_TEST_PG_URL host %q: tests only talk to one loopback IP literal with a port", u.Host)
	}
	return dsn
}
