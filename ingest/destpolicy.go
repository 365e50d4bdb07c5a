package ingest

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// defaultAllowedPorts are the destination ports a source URL (or a
// redirect) may name when SOURCE_ALLOWED_PORTS is not set: 80 and 443.
func defaultAllowedPorts() []int { return []int{80, 443} }

// policy is a fetcher's destination rule set, applied to the URL, to every
// redirect and at dial time:
//   - the built-in blocked ranges (CheckAddr) and the operator's deny ranges
//     (SOURCE_DENY_CIDRS: internal networks that are not RFC 1918, such as a
//     global IPv6 pod network);
//   - the allowed ports (SOURCE_ALLOWED_PORTS);
//   - the allow list (SOURCE_ALLOW_PRIVATE_HOSTS): an exact host:port that
//     skips the address checks, the deny ranges and the port check, reached
//     through a redirect only from that same host:port (checkRedirect).
type policy struct {
	allow allowList
	ports map[uint16]bool
	deny  []netip.Prefix
}

// newPolicy parses the three lists, naming every bad entry and its variable.
func newPolicy(allowPrivate []string, ports []int, deny []string) (policy, error) {
	var errs []error
	allow, err := newAllowList(allowPrivate)
	if err != nil {
		errs = append(errs, fmt.Errorf("AllowPrivate (SOURCE_ALLOW_PRIVATE_HOSTS): %w", err))
	}
	p := policy{allow: allow, ports: make(map[uint16]bool, len(ports))}
	if len(ports) == 0 {
		errs = append(errs, errors.New("AllowedPorts (SOURCE_ALLOWED_PORTS): empty, want at least one port"))
	}
	for _, n := range ports {
		if n < 1 || n > 65535 {
			errs = append(errs, fmt.Errorf("AllowedPorts (SOURCE_ALLOWED_PORTS): port %d not in 1-65535", n))
			continue
		}
		p.ports[uint16(n)] = true
	}
	for _, s := range deny {
		pfx, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			errs = append(errs, fmt.Errorf("DenyCIDRs (SOURCE_DENY_CIDRS): %q is not a prefix like 10.0.0.0/8 or 2001:db8::/32", s))
			continue
		}
		p.deny = append(p.deny, pfx.Masked())
	}
	return p, errors.Join(errs...)
}

// defaultPolicy is the policy of the package-level ValidateURL.
func defaultPolicy(allowPrivate []string) policy {
	p, _ := newPolicy(allowPrivate, defaultAllowedPorts(), nil)
	return p
}

// checkAddr refuses a built-in blocked address (CheckAddr) and an address in
// one of the operator's deny ranges, both as ErrBlockedAddress.
func (p policy) checkAddr(a netip.Addr) error {
	if err := CheckAddr(a); err != nil {
		return err
	}
	a = a.WithZone("")
	for _, pfx := range p.deny {
		if pfx.Contains(a) {
			return fmt.Errorf("check address %s: in deny range %s: %w", a, pfx, ErrBlockedAddress)
		}
	}
	return nil
}

// checkPort refuses a port outside the allowed ports as ErrBlockedAddress.
func (p policy) checkPort(port uint16) error {
	if !p.ports[port] {
		return fmt.Errorf("check port %d: not an allowed port: %w", port, ErrBlockedAddress)
	}
	return nil
}

// checkRedirectHop applies the allow list to a redirect: a target on an
// allow-listed host:port may only be reached from that same host:port, so a
// source on the internet cannot use a redirect to reach an internal host
// that the operator opened for its own URLs. from and to are normalised
// host:port keys (hostPortKey). It runs per hop in the redirect check, not
// at dial time: the dialer does not know the hop, and a pooled connection
// to the allow-listed host would not be dialled at all.
func (p policy) checkRedirectHop(from, to string) error {
	if p.allow.has(to) && from != to {
		return fmt.Errorf("redirect from %s into allow-listed %s: %w", from, to, ErrBlockedAddress)
	}
	return nil
}

// hostPortKey is the normalised host:port of a host and its effective port,
// as the allow list stores it.
func hostPortKey(h hostInfo, port uint16) string {
	return net.JoinHostPort(h.name, strconv.FormatUint(uint64(port), 10))
}
