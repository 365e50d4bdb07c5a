package ingest

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/internal/testenv"
)

// The NetNS tests submit NON-loopback URLs. They run only inside a network
// namespace whose sole interface is loopback (scripts/netns-test.sh), where
// no packet can leave the machine even if the policy were broken: a dial the
// policy allows fails with "network unreachable" instead of reaching anyone.

func TestNetNSFetchPolicy(t *testing.T) {
	testenv.RequireNetNS(t)
	t.Parallel()
	resolver := &fakeResolver{answers: map[string][]netip.Addr{
		"evil.example":   addrs("10.0.0.5"),
		"public.example": addrs("8.8.8.8"),
	}}
	tests := []struct {
		name    string
		url     string
		wantErr error
	}{
		{"private", "http://10.0.0.1/", ErrBlockedAddress},
		{"cloud metadata", "http://169.254.169.254/latest/meta-data/", ErrBlockedAddress},
		{"unique local v6", "http://[fd00::1]/", ErrBlockedAddress},
		{"cgnat", "http://100.64.0.1/", ErrBlockedAddress},
		{"name resolving to private", "http://evil.example/cover.jpg", ErrBlockedAddress},
		// Allowed by policy, so the dial happens and fails: no route here.
		{"public literal", "http://8.8.8.8/", ErrFetchFailed},
		{"public v6 literal", "http://[2606:4700::1111]/", ErrFetchFailed},
		{"name resolving to public", "http://public.example/cover.jpg", ErrFetchFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := testFetcher(t, func(c *FetchConfig) {
				c.Resolver = resolver
				c.MaxAttempts = 1
				c.Timeout = 2 * time.Second
			})
			_, err := f.Fetch(context.Background(), tt.url)
			t.Logf("Fetch(%s) = %v", tt.url, err)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Fetch(%s) = %v, want %v", tt.url, err, tt.wantErr)
			}
			if errors.Is(tt.wantErr, ErrFetchFailed) && errors.Is(err, ErrBlockedAddress) {
				t.Errorf("Fetch(%s) blocked by policy, want allowed then unreachable", tt.url)
			}
		})
	}
}

// TestNetNSLoopbackStillWorks shows the namespace is usable: the allow-listed
// loopback server answers.
func TestNetNSLoopbackStillWorks(t *testing.T) {
	testenv.RequireNetNS(t)
	t.Parallel()
	srv := newTestServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "inside") })
	f := testFetcher(t, nil, srv.hostPort())
	res, err := f.Fetch(context.Background(), srv.URL+"/")
	if err != nil || string(res.Body) != "inside" {
		t.Fatalf("Fetch(%s) = %q, %v; want \"inside\"", srv.URL, res.Body, err)
	}
}

// TestNetNSFetchPortsDenyRangesAndIDN: the policy's new refusals through
// Fetch, with their codes. Refused ports and malformed hosts are never
// resolved.
func TestNetNSFetchPortsDenyRangesAndIDN(t *testing.T) {
	testenv.RequireNetNS(t)
	t.Parallel()
	tests := []struct {
		name     string
		url      string
		code     cover.Code
		resolves bool
	}{
		{"malformed a-label", "http://xn--localhost-.example/c.jpg", "invalid_url", false},
		{"a-label of ascii in a subdomain", "https://covers.xn--zz-.example/c.jpg", "invalid_url", false},
		{"a-label to a control char", "http://xn--a.example/c.jpg", "invalid_url", false},
		{"bad a-label beside a unicode label", "http://xn--localhost-.bücher.example/c.jpg", "invalid_url", false},
		{"port 8080", "http://public.example:8080/c.jpg", "blocked_address", false},
		{"port 22 literal", "http://8.8.8.8:22/", "blocked_address", false},
		{"v6 pod range by name", "http://pods.example/c.jpg", "blocked_address", true},
		{"v6 pod range literal", "http://[2600:1f18::5]/c.jpg", "blocked_address", false},
		{"v4 operator range", "http://11.1.2.3/c.jpg", "blocked_address", false},
		// Allowed by policy, so the dial happens and fails: no route here.
		{"valid idn", "http://bücher.example/c.jpg", "fetch_failed", true},
		{"public name", "https://public.example/c.jpg", "fetch_failed", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resolver := &fakeResolver{answers: map[string][]netip.Addr{
				"public.example":         addrs("8.8.8.8"),
				"pods.example":           addrs("2600:1f18:1::5"),
				"xn--bcher-kva.example":  addrs("8.8.4.4"),
				"xn--localhost-.example": addrs("8.8.8.8"),
			}}
			f := testFetcher(t, func(c *FetchConfig) {
				c.Resolver = resolver
				c.DenyCIDRs = testDeny
				c.MaxAttempts = 1
				c.Timeout = 2 * time.Second
			})
			_, err := f.Fetch(context.Background(), tt.url)
			t.Logf("Fetch(%s) = %v", tt.url, err)
			if Code(err) != tt.code {
				t.Errorf("Fetch(%s) = %v (code %s), want %s", tt.url, err, Code(err), tt.code)
			}
			if asked := resolver.calls.Load() > 0; asked != tt.resolves {
				t.Errorf("Fetch(%s): resolver asked=%v, want %v", tt.url, asked, tt.resolves)
			}
		})
	}
}

// TestNetNSRedirectFromPublicIntoAllowListed: a source on the internet (a
// public name; its connection is handed to a loopback server standing in
// for it) redirects into an allow-listed private host:port. That is
// blocked_address and the private host never sees a request, though the
// same host is fetched directly without trouble.
func TestNetNSRedirectFromPublicIntoAllowListed(t *testing.T) {
	testenv.RequireNetNS(t)
	t.Parallel()
	internal := newTestServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "internal") })
	attacker := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, internal.URL+"/secret", http.StatusFound)
	})
	resolver := &fakeResolver{answers: map[string][]netip.Addr{"evil.example": addrs("8.8.8.8")}}
	f := testFetcher(t, func(c *FetchConfig) { c.Resolver = resolver }, internal.hostPort())
	dial := f.dialer.dial
	f.dialer.dial = func(ctx context.Context, nd *net.Dialer, network, address string) (net.Conn, error) {
		if address == "8.8.8.8:80" { // the public source: served by the loopback stand-in
			var d net.Dialer
			return d.DialContext(ctx, "tcp", attacker.hostPort())
		}
		return dial(ctx, nd, network, address)
	}
	_, err := f.Fetch(context.Background(), "http://evil.example/cover.jpg")
	if !errors.Is(err, ErrBlockedAddress) || Code(err) != "blocked_address" {
		t.Errorf("Fetch(public redirecting into %s) = %v, want blocked_address", internal.hostPort(), err)
	}
	if attacker.requests.Load() != 1 {
		t.Errorf("the public source saw %d requests, want 1", attacker.requests.Load())
	}
	if n := internal.requests.Load(); n != 0 {
		t.Errorf("the allow-listed host saw %d requests, want 0", n)
	}
	if res, err := f.Fetch(context.Background(), internal.URL+"/direct"); err != nil || string(res.Body) != "internal" {
		t.Errorf("Fetch(%s/direct) = %q, %v; want \"internal\"", internal.URL, res.Body, err)
	}
}
