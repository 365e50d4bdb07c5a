package ingest

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

// These tests never dial: CheckAddr and ValidateURL are pure, and the
// dialer tests replace the dial function or call the Control hook directly.

func TestCheckAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		addrs   []string
		blocked bool
	}{
		{"loopback v4", []string{"127.0.0.1", "127.255.255.254", "127.0.1.1"}, true},
		{"loopback v6", []string{"::1"}, true},
		{"private 10/8", []string{"10.0.0.1", "10.255.255.255"}, true},
		{"private 172.16/12", []string{"172.16.0.1", "172.31.255.255"}, true},
		{"private 192.168/16", []string{"192.168.0.1", "192.168.255.255"}, true},
		{"link-local v4 and metadata", []string{"169.254.169.254", "169.254.0.1"}, true},
		{"link-local v6", []string{"fe80::1", "febf::1"}, true},
		{"cgnat", []string{"100.64.0.1", "100.127.255.255"}, true},
		{"this network", []string{"0.0.0.0", "0.1.2.3"}, true},
		{"unspecified v6", []string{"::"}, true},
		{"multicast", []string{"224.0.0.1", "239.255.255.250", "ff02::1", "ff0e::1"}, true},
		{"broadcast and reserved", []string{"255.255.255.255", "240.0.0.1", "250.1.2.3"}, true},
		{"unique local", []string{"fd00::1", "fc00::1", "fdff:ffff::1"}, true},
		{"ipv4-mapped", []string{"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:8.8.8.8"}, true},
		{"ipv4-compatible", []string{"::127.0.0.1", "::8.8.8.8"}, true},
		{"6to4", []string{"2002:7f00:1::", "2002:0808:0808::1"}, true},
		{"nat64", []string{"64:ff9b::7f00:1", "64:ff9b::808:808", "64:ff9b:1::1"}, true},
		{"teredo", []string{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001::1"}, true},
		{"benchmarking", []string{"198.18.0.1", "198.19.255.255"}, true},
		{"test nets", []string{"192.0.2.1", "198.51.100.7", "203.0.113.9"}, true},
		{"ietf protocol", []string{"192.0.0.8", "192.0.0.170"}, true},
		{"documentation v6", []string{"2001:db8::1", "3fff::1"}, true},
		{"site-local", []string{"fec0::1"}, true},
		{"discard", []string{"100::1"}, true},
		{"outside 2000::/3", []string{"4000::1", "e000::1"}, true},
		{"zoned link-local", []string{"fe80::1%eth0"}, true},
		{"public", []string{"8.8.8.8", "1.1.1.1", "2606:4700::1111", "100.128.0.1", "172.32.0.1",
			"100.63.255.255", "172.15.255.255", "192.169.0.1", "2a00:1450:4001:80b::200e"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, s := range tt.addrs {
				err := CheckAddr(netip.MustParseAddr(s))
				if got := errors.Is(err, ErrBlockedAddress); got != tt.blocked {
					t.Errorf("CheckAddr(%s) = %v, want blocked=%v", s, err, tt.blocked)
				}
				if err != nil && !errors.Is(err, ErrBlockedAddress) {
					t.Errorf("CheckAddr(%s) = %v, want an ErrBlockedAddress", s, err)
				}
			}
		})
	}
	if err := CheckAddr(netip.Addr{}); !errors.Is(err, ErrBlockedAddress) {
		t.Errorf("CheckAddr(zero Addr) = %v, want ErrBlockedAddress", err)
	}
}

func TestCheckAddrNamesClass(t *testing.T) {
	t.Parallel()
	tests := []struct{ addr, class string }{
		{"169.254.169.254", "link-local"},
		{"100.64.0.1", "cgnat"},
		{"::ffff:8.8.8.8", "ipv4-mapped"},
		{"2001::1", "teredo"},
		{"255.255.255.255", "broadcast"},
	}
	for _, tt := range tests {
		err := CheckAddr(netip.MustParseAddr(tt.addr))
		if err == nil || !strings.Contains(err.Error(), tt.class) {
			t.Errorf("CheckAddr(%s) = %v, want class %q in the message", tt.addr, err, tt.class)
		}
	}
}

func TestValidateURL(t *testing.T) {
	t.Parallel()
	long := "http://example.com/" + strings.Repeat("a", 2048)
	tests := []struct {
		name    string
		raw     string
		allow   []string
		wantErr error  // nil: accepted
		want    string // normalised URL when accepted
	}{
		{"plain https", "https://covers.example.com/a/b.jpg?sig=x#frag", nil, nil, "https://covers.example.com/a/b.jpg?sig=x"},
		{"uppercase and trailing dot", "HTTP://Covers.Example.COM./x.png", nil, nil, "http://covers.example.com/x.png"},
		{"idn host", "https://bücher.example/c.jpg", nil, nil, "https://xn--bcher-kva.example/c.jpg"},
		{"public ip literal", "http://8.8.8.8/x", nil, nil, "http://8.8.8.8/x"},
		{"https on port 80", "https://8.8.8.8:80/x", nil, nil, "https://8.8.8.8:80/x"},
		{"valid a-label", "https://xn--bcher-kva.example/c.jpg", nil, nil, "https://xn--bcher-kva.example/c.jpg"},
		{"uppercase a-label", "https://XN--BCHER-KVA.example/c.jpg", nil, nil, "https://xn--bcher-kva.example/c.jpg"},
		{"deviation a-label kept", "https://xn--zca.example/c.jpg", nil, nil, "https://xn--zca.example/c.jpg"},
		{"public decimal ip normalised", "http://134744072/x", nil, nil, "http://8.8.8.8/x"},
		{"port leading zeros", "http://example.com:0080/", nil, nil, "http://example.com:80/"},
		{"allowed exact loopback", "http://127.0.0.1:8081/x", []string{"127.0.0.1:8081"}, nil, "http://127.0.0.1:8081/x"},
		{"allowed via other spelling", "http://2130706433:8081/x", []string{"127.0.0.1:8081"}, nil, "http://127.0.0.1:8081/x"},

		{"allow list is port exact", "http://127.0.0.1:8082/", []string{"127.0.0.1:8081"}, ErrBlockedAddress, ""},
		{"port outside the default list", "http://8.8.8.8:8080/x", nil, ErrBlockedAddress, ""},
		{"name on a port outside the list", "https://covers.example.com:8443/x", nil, ErrBlockedAddress, ""},
		{"allow-listed port is for that host only", "http://covers.example.com:8081/x", []string{"127.0.0.1:8081"}, ErrBlockedAddress, ""},
		{"allow list default port", "http://127.0.0.1/", []string{"127.0.0.1:8081"}, ErrBlockedAddress, ""},
		{"loopback", "http://127.0.0.1/", nil, ErrBlockedAddress, ""},
		{"decimal", "http://2130706433/", nil, ErrBlockedAddress, ""},
		{"hex", "http://0x7f000001/", nil, ErrBlockedAddress, ""},
		{"hex dotted", "http://0x7f.0.0.1/", nil, ErrBlockedAddress, ""},
		{"octal", "http://0177.0.0.1/", nil, ErrBlockedAddress, ""},
		{"short", "http://127.1/", nil, ErrBlockedAddress, ""},
		{"short three parts", "http://10.1.1/", nil, ErrBlockedAddress, ""},
		{"zero", "http://0/", nil, ErrBlockedAddress, ""},
		{"unspecified", "http://0.0.0.0:8080/", nil, ErrBlockedAddress, ""},
		{"metadata", "http://169.254.169.254/latest/meta-data/", nil, ErrBlockedAddress, ""},
		{"metadata decimal", "http://2852039166/", nil, ErrBlockedAddress, ""},
		{"mapped v6", "http://[::ffff:127.0.0.1]/", nil, ErrBlockedAddress, ""},
		{"mapped v6 hex", "http://[::ffff:7f00:1]/", nil, ErrBlockedAddress, ""},
		{"v6 unspecified", "http://[::]/", nil, ErrBlockedAddress, ""},
		{"v6 loopback", "http://[::1]:80/", nil, ErrBlockedAddress, ""},
		{"percent-encoded host", "http://%31%32%37.0.0.1/", nil, ErrInvalidURL, ""},
		{"fullwidth digits", "http://１２７.０.０.１/", nil, ErrBlockedAddress, ""},
		{"trailing dot ip", "http://127.0.0.1./", nil, ErrBlockedAddress, ""},

		{"userinfo", "http://user@example.com/", nil, ErrInvalidURL, ""},
		{"userinfo hiding loopback", "http://evil.com@127.0.0.1/", nil, ErrInvalidURL, ""},
		{"userinfo with password", "https://u:p@example.com/", nil, ErrInvalidURL, ""},
		{"ftp", "ftp://example.com/a.jpg", nil, ErrInvalidURL, ""},
		{"file", "file:///etc/passwd", nil, ErrInvalidURL, ""},
		{"gopher", "gopher://127.0.0.1:6379/_INFO", nil, ErrInvalidURL, ""},
		{"javascript", "javascript:alert(1)", nil, ErrInvalidURL, ""},
		{"data", "data:image/png;base64,AAAA", nil, ErrInvalidURL, ""},
		{"relative", "/covers/1.jpg", nil, ErrInvalidURL, ""},
		{"empty", "", nil, ErrInvalidURL, ""},
		{"missing host", "http:///x.jpg", nil, ErrInvalidURL, ""},
		{"opaque", "http:example.com", nil, ErrInvalidURL, ""},
		{"too long", long, nil, ErrInvalidURL, ""},
		{"port zero", "http://example.com:0/", nil, ErrInvalidURL, ""},
		{"port too big", "http://example.com:65536/", nil, ErrInvalidURL, ""},
		{"port not numeric", "http://example.com:http/", nil, ErrInvalidURL, ""},
		{"ipv4 out of range", "http://256.0.0.1/", nil, ErrInvalidURL, ""},
		{"five parts", "http://1.2.3.4.5/", nil, ErrInvalidURL, ""},
		{"bad octal", "http://08.0.0.1/", nil, ErrInvalidURL, ""},
		{"numeric last label", "http://example.123/", nil, ErrInvalidURL, ""},
		{"v6 zone", "http://[fe80::1%25eth0]/", nil, ErrInvalidURL, ""},
		{"empty label", "http://a..b/", nil, ErrInvalidURL, ""},
		{"control char", "http://example.com/\x00", nil, ErrInvalidURL, ""},
		{"a-label decoding to ascii", "http://xn--localhost-.example/", nil, ErrInvalidURL, ""},
		{"a-label of ascii, other port", "http://xn--localhost-.example:8080/", []string{"xn--localhost-.example:8080"}, ErrInvalidURL, ""},
		{"a-label bare prefix", "http://xn--.example/", nil, ErrInvalidURL, ""},
		{"a-label to a control char", "http://xn--a.example/", nil, ErrInvalidURL, ""},
		{"a-label bad punycode", "http://xn--zz-9999999999999.example/", nil, ErrInvalidURL, ""},
		{"a-label trailing hyphen", "http://cdn.xn--ab--.example/", nil, ErrInvalidURL, ""},
		{"a-label overflow", "http://xn--99999999999999a.example/", nil, ErrInvalidURL, ""},
		{"bad a-label beside a unicode label", "http://xn--localhost-.bücher.example/", nil, ErrInvalidURL, ""},
		{"a-label of a mapped code point", "http://xn--bcher-kva.example.xn--wca/", nil, ErrInvalidURL, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := ValidateURL(tt.raw, 2048, tt.allow...)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ValidateURL(%q) = %v, %v; want %v", tt.raw, u, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ValidateURL(%q) error %v, want %s", tt.raw, err, tt.want)
			}
			if u.String() != tt.want {
				t.Errorf("ValidateURL(%q) = %s, want %s", tt.raw, u, tt.want)
			}
		})
	}
}

func TestValidateURLLengthBoundary(t *testing.T) {
	t.Parallel()
	base := "http://example.com/"
	exact := base + strings.Repeat("a", 2048-len(base))
	if _, err := ValidateURL(exact, 2048); err != nil {
		t.Errorf("ValidateURL(2048 bytes) = %v, want accepted", err)
	}
	if _, err := ValidateURL(exact+"a", 2048); !errors.Is(err, ErrInvalidURL) {
		t.Errorf("ValidateURL(2049 bytes) = %v, want ErrInvalidURL", err)
	}
	if _, err := ValidateURL(exact+"a", 0); !errors.Is(err, ErrInvalidURL) {
		t.Errorf("ValidateURL(2049 bytes, maxLen 0 = default) = %v, want ErrInvalidURL", err)
	}
}

func FuzzValidateURL(f *testing.F) {
	for _, s := range []string{"http://example.com/a.jpg", "http://2130706433/", "http://[::ffff:127.0.0.1]/",
		"https://bücher.example/", "http://0x7f.1/", "http://u@h/", "http://h:99999/",
		"http://xn--localhost-.example/", "http://xn--bcher-kva.example:443/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := ValidateURL(raw, 2048)
		if err != nil {
			if !errors.Is(err, ErrInvalidURL) && !errors.Is(err, ErrBlockedAddress) {
				t.Fatalf("ValidateURL(%q) = %v, want ErrInvalidURL or ErrBlockedAddress", raw, err)
			}
			return
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.User != nil || u.Host == "" {
			t.Fatalf("ValidateURL(%q) accepted %q", raw, u)
		}
		if a, perr := netip.ParseAddr(u.Hostname()); perr == nil && CheckAddr(a) != nil {
			t.Fatalf("ValidateURL(%q) accepted blocked address %s", raw, a)
		}
		if p := u.Port(); p != "" && p != "80" && p != "443" {
			t.Fatalf("ValidateURL(%q) accepted port %s outside the default 80,443", raw, p)
		}
		for _, l := range strings.Split(u.Hostname(), ".") {
			if strings.HasPrefix(l, "xn--") && checkALabel(l) != nil {
				t.Fatalf("ValidateURL(%q) accepted a malformed a-label %q", raw, l)
			}
		}
		// Normalised output is a fixed point.
		again, err := ValidateURL(u.String(), 1<<20)
		if err != nil || again.String() != u.String() {
			t.Fatalf("ValidateURL(%q) = %q, revalidated = %v, %v", raw, u, again, err)
		}
	})
}

// fakeResolver answers from a table and counts calls.
type fakeResolver struct {
	answers map[string][]netip.Addr
	calls   atomic.Int64
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.calls.Add(1)
	if a, ok := r.answers[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// testPolicy is the default policy (ports 80, 443) with an allow list and
// deny ranges.
func testPolicy(t *testing.T, allow []string, deny ...string) policy {
	t.Helper()
	p, err := newPolicy(allow, defaultAllowedPorts(), deny)
	if err != nil {
		t.Fatalf("newPolicy(%v, %v): %v", allow, deny, err)
	}
	return p
}

// recordDials replaces d's dial function: it records each address, checks
// that the Control hook the real dial would run accepts it, and fails the
// dial, so nothing is ever connected.
func recordDials(t *testing.T, d *safeDialer) *[]string {
	t.Helper()
	var got []string
	d.dial = func(_ context.Context, nd *net.Dialer, _, address string) (net.Conn, error) {
		got = append(got, address)
		network := "tcp4"
		if !netip.MustParseAddrPort(address).Addr().Is4() {
			network = "tcp6"
		}
		if err := nd.Control(network, address, nil); err != nil {
			t.Errorf("Control(%s %s) = %v, want nil", network, address, err)
		}
		return nil, errors.New("test: no network")
	}
	return &got
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func TestDialerRefusesBeforeDialing(t *testing.T) {
	t.Parallel()
	resolver := &fakeResolver{answers: map[string][]netip.Addr{
		"evil.example":     addrs("10.0.0.5"),
		"mixed.example":    addrs("8.8.8.8", "10.0.0.5"),
		"localhost":        addrs("127.0.0.1", "::1"),
		"metadata.example": addrs("169.254.169.254"),
		"mapped.example":   addrs("::ffff:127.0.0.1"),
	}}
	tests := []struct {
		name      string
		address   string
		network   string
		resolves  bool // the resolver must have been asked
		wantError error
	}{
		{"name resolving to private", "evil.example:80", "tcp", true, ErrBlockedAddress},
		{"public and private mix", "mixed.example:443", "tcp", true, ErrBlockedAddress},
		{"localhost via resolver", "localhost:80", "tcp", true, ErrBlockedAddress},
		{"metadata via resolver", "metadata.example:80", "tcp", true, ErrBlockedAddress},
		{"mapped answer is unmapped then checked", "mapped.example:80", "tcp", true, ErrBlockedAddress},
		{"literal loopback", "127.0.0.1:80", "tcp", false, ErrBlockedAddress},
		{"literal decimal loopback", "2130706433:80", "tcp", false, ErrBlockedAddress},
		{"literal v6 loopback", "[::1]:80", "tcp", false, ErrBlockedAddress},
		{"literal mapped", "[::ffff:10.0.0.1]:80", "tcp", false, ErrBlockedAddress},
		{"udp", "8.8.8.8:53", "udp", false, ErrBlockedAddress},
		{"unknown name", "nope.example:80", "tcp", true, nil},
		{"bad port", "example.com:0", "tcp", false, ErrInvalidURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newSafeDialer(resolver, testPolicy(t, nil))
			var dials atomic.Int64
			d.dial = func(context.Context, *net.Dialer, string, string) (net.Conn, error) {
				dials.Add(1)
				return nil, errors.New("test: dial must not happen")
			}
			before := resolver.calls.Load()
			conn, err := d.DialContext(context.Background(), tt.network, tt.address)
			if conn != nil {
				conn.Close()
			}
			if err == nil {
				t.Fatalf("DialContext(%s) succeeded, want refusal", tt.address)
			}
			if tt.wantError != nil && !errors.Is(err, tt.wantError) {
				t.Errorf("DialContext(%s) = %v, want %v", tt.address, err, tt.wantError)
			}
			if n := dials.Load(); n != 0 {
				t.Errorf("DialContext(%s) dialled %d times, want 0", tt.address, n)
			}
			if asked := resolver.calls.Load() > before; asked != tt.resolves {
				t.Errorf("DialContext(%s) resolver asked=%v, want %v", tt.address, asked, tt.resolves)
			}
		})
	}
}

func TestDialerDialsResolvedIPNotName(t *testing.T) {
	t.Parallel()
	resolver := &fakeResolver{answers: map[string][]netip.Addr{
		"cdn.example":     addrs("::ffff:8.8.8.8", "2606:4700::1111"),
		"minio":           addrs("10.1.2.3"),
		"rebound.example": addrs("8.8.4.4"),
	}}
	tests := []struct {
		name    string
		address string
		allow   []string
		want    []string
	}{
		{"public name, every address tried", "cdn.example:443", nil, []string{"8.8.8.8:443", "[2606:4700::1111]:443"}},
		{"allow-listed private name", "minio:9000", []string{"minio:9000"}, []string{"10.1.2.3:9000"}},
		{"public literal", "1.1.1.1:80", nil, []string{"1.1.1.1:80"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := newSafeDialer(resolver, testPolicy(t, tt.allow))
			got := recordDials(t, d)
			if _, err := d.DialContext(context.Background(), "tcp", tt.address); err == nil {
				t.Fatal("DialContext succeeded with a failing dial")
			}
			if strings.Join(*got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("DialContext(%s) dialled %v, want %v", tt.address, *got, tt.want)
			}
		})
	}
}

func TestDialControl(t *testing.T) {
	t.Parallel()
	permit := map[netip.AddrPort]bool{netip.MustParseAddrPort("127.0.0.1:8081"): true}
	tests := []struct {
		name, network, address string
		permit                 map[netip.AddrPort]bool
		blocked                bool
	}{
		{"loopback", "tcp4", "127.0.0.1:80", nil, true},
		{"metadata", "tcp4", "169.254.169.254:80", nil, true},
		{"private v6", "tcp6", "[fd00::1]:443", nil, true},
		{"mapped loopback", "tcp6", "[::ffff:127.0.0.1]:80", nil, true},
		{"public v4", "tcp4", "8.8.8.8:443", nil, false},
		{"public v6", "tcp6", "[2606:4700::1111]:443", nil, false},
		{"permitted exact", "tcp4", "127.0.0.1:8081", permit, false},
		{"permitted host other port", "tcp4", "127.0.0.1:8082", permit, true},
		{"udp", "udp4", "8.8.8.8:53", nil, true},
		{"garbage", "tcp4", "not-an-address", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A nil RawConn: a refusal must come before the socket is touched.
			err := dialControl(testPolicy(t, nil), tt.permit)(tt.network, tt.address, nil)
			if got := errors.Is(err, ErrBlockedAddress); got != tt.blocked {
				t.Errorf("Control(%s %s) = %v, want blocked=%v", tt.network, tt.address, err, tt.blocked)
			}
		})
	}
}

// TestDialControlStopsRealConnect proves the hook runs before connect(2): a
// real net.Dialer with it never reaches a listening loopback socket.
func TestDialControlStopsRealConnect(t *testing.T) {
	t.Parallel()
	ln, accepted := countingListener(t)
	nd := &net.Dialer{Control: dialControl(testPolicy(t, nil), nil)}
	conn, err := nd.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err == nil {
		conn.Close()
		t.Fatalf("dial %s succeeded, want ErrBlockedAddress", ln.Addr())
	}
	if !errors.Is(err, ErrBlockedAddress) {
		t.Errorf("dial %s = %v, want ErrBlockedAddress", ln.Addr(), err)
	}
	if n := accepted(); n != 0 {
		t.Errorf("listener accepted %d connections, want 0", n)
	}
}
