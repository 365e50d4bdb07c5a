package ingest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// Resolver looks up the addresses of a host name. *net.Resolver satisfies it;
// tests inject fakes so no real name is ever resolved.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// allowList holds normalised "host:port" keys that may be reached although
// their address is private (SOURCE_ALLOW_PRIVATE_HOSTS). Only that exact
// host and port: never the rest of the range.
type allowList map[string]struct{}

func newAllowList(entries []string) (allowList, error) {
	allow := make(allowList, len(entries))
	var errs []error
	for _, e := range entries {
		key, err := normaliseHostPort(e)
		if err != nil {
			errs = append(errs, fmt.Errorf("allow private %q: %w", e, err))
			continue
		}
		allow[key] = struct{}{}
	}
	return allow, errors.Join(errs...)
}

func (a allowList) has(key string) bool {
	_, ok := a[key]
	return ok
}

// normaliseHostPort returns the canonical "host:port" key of an address as
// the allow list and the dialer compare it.
func normaliseHostPort(hostport string) (string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", fmt.Errorf("split %q: %w", hostport, ErrInvalidURL)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("bad port %q: %w", port, ErrInvalidURL)
	}
	h, err := parseHost(host)
	if err != nil {
		return "", err
	}
	return hostPortKey(h, uint16(n)), nil
}

// safeDialer is the http.Transport DialContext. It never hands a host name to
// the operating system: it resolves names itself with the injected Resolver,
// refuses the whole dial if ANY resolved address is blocked (a name that mixes
// public and private answers is treated as hostile, not filtered), then dials
// the IP addresses one after the other. The net.Dialer's Control hook checks
// the final ip:port once more right before connect(2), so a resolver that
// changes its answer (DNS rebinding) still cannot reach a private address.
// A port outside the policy's allowed ports is refused before any lookup,
// and an address in the operator's deny ranges like a private one. A
// "host:port" in the allow list is dialled without the port and address
// checks, and its Control hook permits exactly the addresses it resolved to.
type safeDialer struct {
	resolver  Resolver
	policy    policy
	keepAlive time.Duration
	// dial connects one ip:port; tests replace it to prove no dial happens.
	dial func(ctx context.Context, d *net.Dialer, network, address string) (net.Conn, error)
}

func newSafeDialer(resolver Resolver, p policy) *safeDialer {
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	return &safeDialer{
		resolver:  resolver,
		policy:    p,
		keepAlive: 30 * time.Second,
		dial: func(ctx context.Context, d *net.Dialer, network, address string) (net.Conn, error) {
			return d.DialContext(ctx, network, address)
		},
	}
}

// DialContext implements the http.Transport dial hook.
func (d *safeDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	ipNetwork, ok := map[string]string{"tcp": "ip", "tcp4": "ip4", "tcp6": "ip6"}[network]
	if !ok {
		return nil, fmt.Errorf("dial %s: network %q: %w", address, network, ErrBlockedAddress)
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", address, ErrInvalidURL)
	}
	portNum, err := strconv.ParseUint(port, 10, 16)
	if err != nil || portNum == 0 {
		return nil, fmt.Errorf("dial %s: bad port: %w", address, ErrInvalidURL)
	}
	h, err := parseHost(host)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", address, err)
	}
	key := hostPortKey(h, uint16(portNum))
	allowed := d.policy.allow.has(key)
	if !allowed {
		if err := d.policy.checkPort(uint16(portNum)); err != nil {
			return nil, fmt.Errorf("dial %s: %w", key, err)
		}
	}

	addrs := []netip.Addr{h.addr}
	if !h.addr.IsValid() {
		if addrs, err = d.lookup(ctx, ipNetwork, h.name); err != nil {
			return nil, fmt.Errorf("dial %s: %w", key, err)
		}
	}
	targets := make([]netip.AddrPort, 0, len(addrs))
	for _, a := range addrs {
		if !allowed {
			if err := d.policy.checkAddr(a); err != nil {
				return nil, fmt.Errorf("dial %s: %w", key, err)
			}
		}
		targets = append(targets, netip.AddrPortFrom(a, uint16(portNum)))
	}
	var permit map[netip.AddrPort]bool
	if allowed {
		permit = make(map[netip.AddrPort]bool, len(targets))
		for _, t := range targets {
			permit[netip.AddrPortFrom(t.Addr().Unmap(), t.Port())] = true
		}
	}
	nd := &net.Dialer{KeepAlive: d.keepAlive, Control: dialControl(d.policy, permit)}
	var errs []error
	for i, t := range targets {
		dctx, cancel := partialDeadline(ctx, len(targets)-i)
		conn, err := d.dial(dctx, nd, network, t.String())
		cancel()
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("dial %s: %w", key, errors.Join(errs...))
}

// lookup resolves a name. Answers are unmapped: Go's resolver may return
// IPv4 answers as ::ffff:a.b.c.d, which is a representation detail of the
// resolver, not an IPv4-mapped destination chosen by the source.
func (d *safeDialer) lookup(ctx context.Context, network, host string) ([]netip.Addr, error) {
	addrs, err := d.resolver.LookupNetIP(ctx, network, host)
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(addrs))
	seen := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		a = a.Unmap()
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	return out, nil
}

// partialDeadline gives one of n remaining addresses its share of the time
// left, so a black-holed first address does not starve the others.
func partialDeadline(ctx context.Context, n int) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok || n <= 1 {
		return context.WithCancel(ctx)
	}
	share := time.Until(dl) / time.Duration(n)
	if share < 2*time.Second {
		share = 2 * time.Second
	}
	return context.WithTimeout(ctx, share)
}

// dialControl is the last line of defence, run by net.Dialer after the
// socket exists and before connect(2): the final ip:port must pass the
// policy's port and address checks (CheckAddr and the deny ranges) unless it
// is one of the permitted (allow-listed) addresses. The address
// is unmapped first because net.IP prints ::ffff:a.b.c.d as a.b.c.d anyway,
// and the inner IPv4 address is what gets checked.
func dialControl(p policy, permit map[netip.AddrPort]bool) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		if network != "tcp4" && network != "tcp6" {
			return fmt.Errorf("dial control %s: network %q: %w", address, network, ErrBlockedAddress)
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("dial control %s: unparsable address: %w", address, ErrBlockedAddress)
		}
		ap = netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port())
		if permit[ap] {
			return nil
		}
		if err := p.checkPort(ap.Port()); err != nil {
			return fmt.Errorf("dial control: %w", err)
		}
		if err := p.checkAddr(ap.Addr()); err != nil {
			return fmt.Errorf("dial control: %w", err)
		}
		return nil
	}
}
