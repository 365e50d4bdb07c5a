package ingest

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// DefaultMaxURLLength is the longest source URL accepted, in bytes.
const DefaultMaxURLLength = 2048

// blockedClass names one refused address range.
type blockedClass struct {
	prefix netip.Prefix
	name   string
}

// blockedPrefixes is the destination policy: every range a fetch of a public
// original has no business reaching. More specific prefixes come first so an
// error names the narrowest class. It is a constant table, not a registry.
var blockedPrefixes = []blockedClass{
	// IPv4.
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "cgnat"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "ietf-protocol"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4-relay"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("255.255.255.255/32"), "broadcast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	// IPv6.
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::ffff:0:0/96"), "ipv4-mapped"},
	{netip.MustParsePrefix("::/96"), "ipv4-compatible"},
	{netip.MustParsePrefix("64:ff9b::/96"), "nat64"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "nat64"},
	{netip.MustParsePrefix("100::/64"), "discard"},
	{netip.MustParsePrefix("2001::/32"), "teredo"},
	{netip.MustParsePrefix("2001::/23"), "ietf-protocol"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("2002::/16"), "6to4"},
	{netip.MustParsePrefix("3fff::/20"), "documentation"},
	{netip.MustParsePrefix("5f00::/16"), "srv6"},
	{netip.MustParsePrefix("fc00::/7"), "unique-local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// globalUnicast6 is the only IPv6 space ever allowed (2000::/3); everything
// outside it is refused as "reserved" even if no row above names it.
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// classifyAddr returns the class of a refused address, or blocked=false.
// IPv4-mapped IPv6 addresses are refused as such, whatever the inner address.
func classifyAddr(a netip.Addr) (class string, blocked bool) {
	if !a.IsValid() {
		return "invalid", true
	}
	a = a.WithZone("")
	for _, c := range blockedPrefixes {
		if c.prefix.Contains(a) {
			return c.name, true
		}
	}
	if a.Is6() && !globalUnicast6.Contains(a) {
		return "reserved", true
	}
	return "", false
}

// CheckAddr returns nil if a is a public unicast address, else ErrBlockedAddress
// wrapped with the class of the address. Pure: it does no I/O.
func CheckAddr(a netip.Addr) error {
	if class, blocked := classifyAddr(a); blocked {
		return fmt.Errorf("check address %s: %s: %w", a, class, ErrBlockedAddress)
	}
	return nil
}

// hostInfo is a normalised URL host: a lowercase ASCII name without trailing
// dot, or, for an IP literal in any form inet_aton accepts, the canonical text.
type hostInfo struct {
	name string     // canonical host text (no brackets)
	addr netip.Addr // valid when the host is an IP literal
}

// parseHost normalises a host (URL Hostname or dial host): IPv6 literals,
// IDN to punycode, lowercase, one trailing dot dropped, and IPv4 literals in
// decimal, hex, octal and short forms (2130706433, 0x7f000001, 0177.0.0.1,
// 127.1) recognised as addresses. A host whose last label is a number but
// which is not a valid IPv4 literal (1.2.3.4.5, 256.0.0.1) is malformed.
func parseHost(h string) (hostInfo, error) {
	if h == "" {
		return hostInfo{}, fmt.Errorf("empty host: %w", ErrInvalidURL)
	}
	if strings.Contains(h, ":") {
		a, err := netip.ParseAddr(h)
		if err != nil || a.Zone() != "" {
			return hostInfo{}, fmt.Errorf("malformed IPv6 host: %w", ErrInvalidURL)
		}
		return hostInfo{name: a.String(), addr: a}, nil
	}
	if !isASCII(h) {
		ascii, err := idna.Lookup.ToASCII(h)
		if err != nil {
			return hostInfo{}, fmt.Errorf("malformed international host name: %w", ErrInvalidURL)
		}
		h = ascii
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if err := checkHostName(h); err != nil {
		return hostInfo{}, err
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if err := checkALabel(l); err != nil {
			return hostInfo{}, err
		}
	}
	if !isNumericLabel(labels[len(labels)-1]) {
		return hostInfo{name: h}, nil
	}
	a, ok := parseIPv4Loose(labels)
	if !ok {
		return hostInfo{}, fmt.Errorf("malformed IPv4 host: %w", ErrInvalidURL)
	}
	return hostInfo{name: a.String(), addr: a}, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// checkHostName accepts lowercase DNS names made of letters, digits, '-',
// '_' and '.', with non-empty labels of at most 63 bytes, 253 in all.
func checkHostName(h string) error {
	if h == "" || len(h) > 253 {
		return fmt.Errorf("host name length %d: %w", len(h), ErrInvalidURL)
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("malformed host name label: %w", ErrInvalidURL)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("invalid character %q in host name: %w", c, ErrInvalidURL)
			}
		}
	}
	return nil
}

// checkALabel refuses a label in the IDNA "xn--" form that is not the
// canonical encoding of a valid international label: bad punycode
// ("xn--zz-"), an encoding of plain ASCII ("xn--localhost-" decodes to
// "localhost") or of disallowed code points, or a non-canonical encoding.
// Such a host can name nothing, so it is an invalid URL and never reaches
// the resolver. Other labels pass unchanged.
func checkALabel(l string) error {
	if !strings.HasPrefix(l, "xn--") {
		return nil
	}
	u, err := idna.Lookup.ToUnicode(l)
	if err != nil || u == "" || isASCII(u) || strings.Contains(u, ".") {
		return fmt.Errorf("malformed international host label: %w", ErrInvalidURL)
	}
	if back, err := idna.Lookup.ToASCII(u); err != nil || back != l {
		return fmt.Errorf("non-canonical international host label: %w", ErrInvalidURL)
	}
	return nil
}

// isNumericLabel reports a label that is a decimal number or a 0x hex number
// (the WHATWG "ends in a number" rule).
func isNumericLabel(l string) bool {
	digits, hex := l, false
	if strings.HasPrefix(l, "0x") {
		digits, hex = l[2:], true
		if digits == "" {
			return true
		}
	}
	if digits == "" {
		return false
	}
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if !('0' <= c && c <= '9' || hex && 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// parseIPv4Loose parses 1 to 4 parts the way inet_aton does: each part
// decimal, 0x-hex or 0-octal; the last part fills the remaining bytes.
func parseIPv4Loose(parts []string) (netip.Addr, bool) {
	if len(parts) == 0 || len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, p := range parts {
		n, ok := parseIPv4Part(p)
		if !ok {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 {
			if n > 0xff {
				return netip.Addr{}, false
			}
			v |= n << (8 * (3 - i))
			continue
		}
		if n >= 1<<(8*(4-i)) {
			return netip.Addr{}, false
		}
		v |= n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

func parseIPv4Part(p string) (uint64, bool) {
	base := 10
	switch {
	case strings.HasPrefix(p, "0x"):
		p, base = p[2:], 16
		if p == "" {
			return 0, true
		}
	case len(p) > 1 && p[0] == '0':
		p, base = p[1:], 8
	}
	n, err := strconv.ParseUint(p, base, 32)
	return n, err == nil
}

// ValidateURL checks a source URL before any I/O and returns it normalised
// (host canonical, fragment dropped): scheme http or https, no userinfo, a
// well-formed host, a port in 1-65535, at most maxLen bytes (<= 0 means
// DefaultMaxURLLength); any of these failing is ErrInvalidURL. Then the
// destination: a port other than 80 and 443, or an IP literal host in
// any form that CheckAddr refuses, is ErrBlockedAddress, unless the exact
// "host:port" is listed in allowPrivate. Host names are not resolved here:
// the dialer checks every resolved address.
func ValidateURL(raw string, maxLen int, allowPrivate ...string) (*url.URL, error) {
	u, _, err := validateURL(raw, maxLen, defaultPolicy(allowPrivate))
	return u, err
}

// validateURL is ValidateURL under the policy p; it also returns the
// normalised host:port key of the destination (hostPortKey).
func validateURL(raw string, maxLen int, p policy) (*url.URL, string, error) {
	u, key, err := parseSourceURL(raw, maxLen, p)
	if err != nil {
		return nil, "", fmt.Errorf("validate url: %w", err)
	}
	return u, key, nil
}

func parseSourceURL(raw string, maxLen int, p policy) (*url.URL, string, error) {
	if maxLen <= 0 {
		maxLen = DefaultMaxURLLength
	}
	if len(raw) > maxLen {
		return nil, "", fmt.Errorf("%d bytes, over %d: %w", len(raw), maxLen, ErrInvalidURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		cause := err
		if ue, ok := err.(*url.Error); ok {
			cause = ue.Err
		}
		return nil, "", fmt.Errorf("%v: %w", cause, ErrInvalidURL)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, "", fmt.Errorf("scheme %q not allowed: %w", u.Scheme, ErrInvalidURL)
	}
	if u.Opaque != "" || u.Host == "" {
		return nil, "", fmt.Errorf("missing host: %w", ErrInvalidURL)
	}
	if u.User != nil {
		return nil, "", fmt.Errorf("userinfo not allowed: %w", ErrInvalidURL)
	}
	port := u.Port()
	effective := map[string]uint16{"http": 80, "https": 443}[u.Scheme]
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return nil, "", fmt.Errorf("bad port %q: %w", port, ErrInvalidURL)
		}
		port, effective = strconv.Itoa(n), uint16(n)
	}
	h, err := parseHost(u.Hostname())
	if err != nil {
		return nil, "", err
	}
	key := hostPortKey(h, effective)
	if !p.allow.has(key) {
		if err := p.checkPort(effective); err != nil {
			return nil, "", err
		}
		if h.addr.IsValid() {
			if err := p.checkAddr(h.addr); err != nil {
				return nil, "", err
			}
		}
	}
	out := *u
	out.Host = h.name
	if h.addr.Is6() {
		out.Host = "[" + h.name + "]"
	}
	if port != "" {
		out.Host = net.JoinHostPort(h.name, port)
	}
	out.Fragment, out.RawFragment = "", ""
	return &out, key, nil
}
