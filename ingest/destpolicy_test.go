package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bookcovers/image-worker/cover"
)

// These tests never send a packet off the machine: the dialer tests replace
// the dial function and use a fake resolver, the Control hook is called
// directly, and the redirect tests talk to loopback servers only.

// Operator ranges of the tests: a global IPv6 range standing for a pod
// network, an IPv4 range used internally though not RFC 1918, and the
// documentation range (already refused by the built-in table).
var testDeny = []string{"2600:1f18::/32", "11.0.0.0/8", "2001:db8::/32"}

func TestNewPolicyNamesBadEntries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		allow []string
		ports []int
		deny  []string
		want  []string // "" for a valid policy
	}{
		{"defaults", nil, defaultAllowedPorts(), nil, nil},
		{"operator lists", []string{"minio:9000"}, []int{80, 443, 8443}, testDeny, nil},
		{"no ports", nil, nil, nil, []string{"SOURCE_ALLOWED_PORTS", "empty"}},
		{"ports out of range", nil, []int{0, 443, 65536}, nil, []string{"SOURCE_ALLOWED_PORTS", "port 0 ", "port 65536 "}},
		{"bad cidrs", nil, []int{443}, []string{"10.0.0.0/33", "fd00::", "pods"}, []string{"SOURCE_DENY_CIDRS", `"10.0.0.0/33"`, `"fd00::"`, `"pods"`}},
		{"bad allow entry", []string{"xn--localhost-.example:80"}, []int{443}, nil, []string{"SOURCE_ALLOW_PRIVATE_HOSTS", `"xn--localhost-.example:80"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := newPolicy(tt.allow, tt.ports, tt.deny)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("newPolicy(%v, %v, %v) = %v, want nil", tt.allow, tt.ports, tt.deny, err)
				}
				return
			}
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("newPolicy(%v, %v, %v) = %v, want it to name %q", tt.allow, tt.ports, tt.deny, err, w)
				}
			}
			cfg := DefaultFetchConfig()
			cfg.AllowPrivate, cfg.AllowedPorts, cfg.DenyCIDRs = tt.allow, tt.ports, tt.deny
			if _, err := NewFetcher(cfg, nil); err == nil {
				t.Errorf("NewFetcher accepted AllowPrivate %v, AllowedPorts %v, DenyCIDRs %v", tt.allow, tt.ports, tt.deny)
			}
		})
	}
}

// TestDialerPortsAndDenyRanges checks the policy at the dial hook: a port
// outside the list is refused before any lookup, an address in a deny range
// (resolved or literal, alone or among public ones) is refused before any
// dial, and an allow-listed host:port passes on its own port and address.
func TestDialerPortsAndDenyRanges(t *testing.T) {
	t.Parallel()
	resolver := &fakeResolver{answers: map[string][]netip.Addr{
		"cdn.example":   addrs("8.8.8.8"),
		"pods.example":  addrs("2600:1f18:10:20::5"),
		"mixed.example": addrs("8.8.4.4", "11.2.3.4"),
		"doc.example":   addrs("2001:db8::7"),
		"minio":         addrs("2600:1f18::9"),
	}}
	tests := []struct {
		name     string
		address  string
		resolves bool     // the resolver must have been asked
		want     []string // addresses dialled; nil: refused with ErrBlockedAddress before any dial
	}{
		{"name on port 8080", "cdn.example:8080", false, nil},
		{"literal on port 22", "8.8.8.8:22", false, nil},
		{"literal on port 6379", "[2606:4700::1111]:6379", false, nil},
		{"name resolving into the v6 pod range", "pods.example:443", true, nil},
		{"name resolving to public and denied v4", "mixed.example:80", true, nil},
		{"name resolving into the documentation range", "doc.example:443", true, nil},
		{"denied v6 literal", "[2600:1f18::1]:443", false, nil},
		{"denied v4 literal", "11.0.0.1:80", false, nil},
		{"denied v4 literal, other spelling", "184549377:80", false, nil},
		{"public name on 443", "cdn.example:443", true, []string{"8.8.8.8:443"}},
		{"public literal on 80", "1.1.1.1:80", false, []string{"1.1.1.1:80"}},
		{"allow-listed host in a deny range, own port", "minio:9000", true, []string{"[2600:1f18::9]:9000"}},
	}
	p, err := newPolicy([]string{"minio:9000"}, defaultAllowedPorts(), testDeny)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newSafeDialer(resolver, p)
			dialled := recordDials(t, d)
			before := resolver.calls.Load()
			_, err := d.DialContext(context.Background(), "tcp", tt.address)
			got := *dialled
			if asked := resolver.calls.Load() > before; asked != tt.resolves {
				t.Errorf("DialContext(%s): resolver asked=%v, want %v", tt.address, asked, tt.resolves)
			}
			if tt.want == nil {
				if !errors.Is(err, ErrBlockedAddress) || len(got) != 0 {
					t.Errorf("DialContext(%s) = %v after dialling %v, want ErrBlockedAddress and no dial", tt.address, err, got)
				}
				return
			}
			if errors.Is(err, ErrBlockedAddress) || fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("DialContext(%s) = %v, dialled %v; want %v dialled", tt.address, err, got, tt.want)
			}
		})
	}
}

// TestDialControlPortsAndDenyRanges checks the last hook before connect(2).
func TestDialControlPortsAndDenyRanges(t *testing.T) {
	t.Parallel()
	p, err := newPolicy(nil, defaultAllowedPorts(), testDeny)
	if err != nil {
		t.Fatal(err)
	}
	permit := map[netip.AddrPort]bool{netip.MustParseAddrPort("[2600:1f18::9]:9000"): true}
	tests := []struct {
		name, network, address string
		blocked                bool
	}{
		{"public v4 on 443", "tcp4", "8.8.8.8:443", false},
		{"public v6 on 80", "tcp6", "[2606:4700::1111]:80", false},
		{"public v4 on 8080", "tcp4", "8.8.8.8:8080", true},
		{"public v6 on 25", "tcp6", "[2606:4700::1111]:25", true},
		{"v6 pod range", "tcp6", "[2600:1f18:ffff::1]:443", true},
		{"v4 operator range", "tcp4", "11.255.0.1:80", true},
		{"v4 operator range mapped", "tcp6", "[::ffff:11.1.1.1]:80", true},
		{"just outside the v6 range", "tcp6", "[2600:1f19::1]:443", false},
		{"just outside the v4 range", "tcp4", "12.0.0.1:443", false},
		{"permitted exact", "tcp6", "[2600:1f18::9]:9000", false},
		{"permitted address, other port", "tcp6", "[2600:1f18::9]:443", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := dialControl(p, permit)(tt.network, tt.address, nil)
			if got := errors.Is(err, ErrBlockedAddress); got != tt.blocked {
				t.Errorf("Control(%s %s) = %v, want blocked=%v", tt.network, tt.address, err, tt.blocked)
			}
		})
	}
}

// TestFetcherValidateURLPolicy checks the URL half of the policy (no I/O):
// configured ports, deny ranges on literals, and the allow list's port.
func TestFetcherValidateURLPolicy(t *testing.T) {
	t.Parallel()
	f := testFetcher(t, func(c *FetchConfig) {
		c.AllowedPorts = []int{443, 8443}
		c.DenyCIDRs = testDeny
	}, "127.0.0.1:9000")
	tests := []struct {
		raw  string
		code cover.Code // "" for accepted
	}{
		{"https://covers.example/a.jpg", ""},
		{"https://covers.example:8443/a.jpg", ""},
		{"http://covers.example/a.jpg", "blocked_address"}, // 80 is not in this list
		{"https://covers.example:8080/a.jpg", "blocked_address"},
		{"https://11.9.9.9/a.jpg", "blocked_address"},
		{"https://[2600:1f18::1]/a.jpg", "blocked_address"},
		{"https://[2001:db8::1]/a.jpg", "blocked_address"},
		{"http://127.0.0.1:9000/a.jpg", ""}, // allow-listed: its port counts as allowed
		{"http://127.0.0.1:9001/a.jpg", "blocked_address"},
		{"https://xn--localhost-.example/a.jpg", "invalid_url"},
	}
	for _, tt := range tests {
		if _, err := f.ValidateURL(tt.raw); Code(err) != tt.code {
			t.Errorf("ValidateURL(%s) = %v (code %q), want code %q", tt.raw, err, Code(err), tt.code)
		}
	}
}

// TestDialerRefusesMalformedIDNWithoutLookup: a host with a malformed
// "xn--" label is an invalid URL at the dial hook too, and is never resolved.
func TestDialerRefusesMalformedIDNWithoutLookup(t *testing.T) {
	t.Parallel()
	resolver := &fakeResolver{answers: map[string][]netip.Addr{"xn--localhost-.example": addrs("8.8.8.8")}}
	d := newSafeDialer(resolver, testPolicy(t, nil))
	var dials atomic.Int64
	d.dial = func(context.Context, *net.Dialer, string, string) (net.Conn, error) {
		dials.Add(1)
		return nil, errors.New("test: dial must not happen")
	}
	for _, address := range []string{"xn--localhost-.example:80", "xn--.example:443", "xn--a.example:80", "cdn.xn--ab--.example:443", "xn--99999999999999a:80"} {
		if _, err := d.DialContext(context.Background(), "tcp", address); !errors.Is(err, ErrInvalidURL) || Code(err) != "invalid_url" {
			t.Errorf("DialContext(%s) = %v (code %s), want ErrInvalidURL (invalid_url)", address, err, Code(err))
		}
	}
	if n := resolver.calls.Load(); n != 0 {
		t.Errorf("resolver called %d times, want 0", n)
	}
	if n := dials.Load(); n != 0 {
		t.Errorf("dialled %d times, want 0", n)
	}
}

// TestFetchRedirectIntoAllowListedHost: two loopback servers on different
// ports, both allow-listed for their own URLs. A redirect within one of them
// works; a redirect from one into the other is blocked_address and the
// target never sees a request, however the target is spelled.
func TestFetchRedirectIntoAllowListedHost(t *testing.T) {
	t.Parallel()
	target := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hop":
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/final":
			_, _ = io.WriteString(w, "landed")
		}
	})
	source := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/self":
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/final":
			_, _ = io.WriteString(w, "source")
		case "/to-target":
			http.Redirect(w, r, target.URL+"/final", http.StatusFound)
		case "/to-target-decimal":
			http.Redirect(w, r, "http://2130706433:"+target.port()+"/final", http.StatusFound)
		case "/to-target-via-self":
			http.Redirect(w, r, "/to-target", http.StatusFound)
		}
	})
	f := testFetcher(t, nil, source.hostPort(), target.hostPort())
	tests := []struct {
		name, url string
		wantErr   error
		wantBody  string
	}{
		{"within the target", target.URL + "/hop", nil, "landed"},
		{"within the source", source.URL + "/self", nil, "source"},
		{"source into target", source.URL + "/to-target", ErrBlockedAddress, ""},
		{"source into target, decimal spelling", source.URL + "/to-target-decimal", ErrBlockedAddress, ""},
		{"source, itself, then into target", source.URL + "/to-target-via-self", ErrBlockedAddress, ""},
	}
	for _, tt := range tests {
		before := target.requests.Load()
		res, err := f.Fetch(context.Background(), tt.url)
		if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: Fetch(%s) = %v, want %v", tt.name, tt.url, err, tt.wantErr)
			continue
		}
		if tt.wantErr != nil {
			if n := target.requests.Load() - before; n != 0 {
				t.Errorf("%s: the allow-listed target saw %d requests, want 0", tt.name, n)
			}
			if Code(err) != "blocked_address" {
				t.Errorf("%s: Code = %s, want blocked_address", tt.name, Code(err))
			}
			continue
		}
		if string(res.Body) != tt.wantBody {
			t.Errorf("%s: body %q, want %q", tt.name, res.Body, tt.wantBody)
		}
	}
}
