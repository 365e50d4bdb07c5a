package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/golang/groupcache"
)

// PeerBasePath is the URL prefix of the groupcache peer protocol. It is
// mounted on the internal listener only.
const PeerBasePath = "/_groupcache/"

// PeersConfig configures cluster membership.
type PeersConfig struct {
	Self    string        // GROUPCACHE_SELF: this replica's internal base URL
	Static  []string      // GROUPCACHE_PEERS: base URLs
	DNS     string        // GROUPCACHE_PEERS_DNS: "name:port" of a headless service
	Refresh time.Duration // GROUPCACHE_PEERS_REFRESH: how often DNS is re-resolved
	Timeout time.Duration // GROUPCACHE_PEER_TIMEOUT: a peer that does not answer in time is bypassed
	// Secret (PEER_SECRET) is sent on every peer request (PeerSecretHeader)
	// and required on every one served; empty turns the check off. Rolling
	// it out replica by replica costs hit rate, never requests: a refused
	// peer request is rendered locally.
	Secret string
}

// DefaultPeersConfig returns the defaults: refresh 10s, peer timeout 3s.
func DefaultPeersConfig() PeersConfig {
	return PeersConfig{Refresh: 10 * time.Second, Timeout: 3 * time.Second}
}

// Enabled reports whether this replica takes part in a peer group.
func (c PeersConfig) Enabled() bool { return c.Self != "" }

// Validate names every problem.
func (c PeersConfig) Validate() error {
	var errs []error
	if c.Self == "" && (len(c.Static) > 0 || c.DNS != "") {
		errs = append(errs, errors.New("GROUPCACHE_PEERS or GROUPCACHE_PEERS_DNS is set but GROUPCACHE_SELF is empty"))
	}
	if c.Self != "" {
		if u, err := url.Parse(c.Self); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("GROUPCACHE_SELF=%q must be a base URL like http://10.0.0.5:8081", c.Self))
		}
	}
	if len(c.Static) > 0 && c.DNS != "" {
		errs = append(errs, errors.New("set either GROUPCACHE_PEERS or GROUPCACHE_PEERS_DNS, not both"))
	}
	if c.DNS != "" {
		if _, _, err := net.SplitHostPort(c.DNS); err != nil {
			errs = append(errs, fmt.Errorf("GROUPCACHE_PEERS_DNS=%q must be name:port", c.DNS))
		}
	}
	if c.Secret != "" && !validPeerSecret(c.Secret) {
		errs = append(errs, fmt.Errorf("PEER_SECRET must be at least %d printable ASCII characters without spaces", MinPeerSecretLength))
	}
	if c.Refresh <= 0 || c.Timeout <= 0 {
		errs = append(errs, errors.New("GROUPCACHE_PEERS_REFRESH and GROUPCACHE_PEER_TIMEOUT must be positive"))
	}
	return errors.Join(errs...)
}

func validPeerSecret(s string) bool {
	if len(s) < MinPeerSecretLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// HostResolver resolves a name to addresses (*net.Resolver satisfies it).
type HostResolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// Peers keeps this process's groupcache HTTP pool in step with the cluster:
// a static list, or a headless-service name re-resolved every Refresh so
// replicas that join or leave are picked up without restarts (the key space
// rehashes on every change). Peer requests have a short timeout; a failed
// peer is bypassed and the variant rendered locally (groupcache falls back).
type Peers struct {
	cfg      PeersConfig
	pool     *groupcache.HTTPPool
	resolver HostResolver
	log      *slog.Logger

	mu      sync.Mutex
	current []string

	set                *metrics.Set
	refreshErr, change *metrics.Counter
}

// NewPeers creates the pool. groupcache allows one pool per process, so cmd
// calls this once.
func NewPeers(cfg PeersConfig, resolver HostResolver, logger *slog.Logger) (*Peers, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	set := metrics.NewSet()
	p := &Peers{cfg: cfg, resolver: resolver, log: logger, set: set,
		refreshErr: set.NewCounter(`covers_cache_peer_refresh_errors_total`),
		change:     set.NewCounter(`covers_cache_peer_changes_total`),
	}
	p.pool = groupcache.NewHTTPPoolOpts(cfg.Self, &groupcache.HTTPPoolOptions{BasePath: PeerBasePath})
	var transport http.RoundTripper = &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: min(cfg.Timeout, time.Second)}).DialContext,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
	}
	if cfg.Secret != "" {
		transport = &secretTransport{next: transport, secret: cfg.Secret}
	}
	p.pool.Transport = func(context.Context) http.RoundTripper { return transport }
	// A peer's load must not die with the asking replica's request.
	p.pool.Context = func(r *http.Request) context.Context { return context.WithoutCancel(r.Context()) }
	set.NewGauge(`covers_cache_peers`, func() float64 { return float64(len(p.Current())) })
	if cfg.DNS == "" {
		p.apply(cfg.Static)
	} else {
		p.apply(nil)
	}
	return p, nil
}

// Metrics returns the peer metrics.
func (p *Peers) Metrics() *metrics.Set { return p.set }

// Handler serves the peer protocol; mount it at PeerBasePath on the internal
// router. It answers only requests with PEER_SECRET (when set) for keys that
// check accepts, the keys the public cover path can produce (see peerGuard).
func (p *Peers) Handler(check KeyCheck) http.Handler {
	return newPeerGuard(p.pool, p.cfg.Secret, check, p.set)
}

// Current returns the peer base URLs in use, self included, sorted.
func (p *Peers) Current() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.current)
}

// Run re-resolves GROUPCACHE_PEERS_DNS until ctx ends (no-op for static peers).
func (p *Peers) Run(ctx context.Context) {
	if p.cfg.DNS == "" {
		return
	}
	t := time.NewTicker(p.cfg.Refresh)
	defer t.Stop()
	for {
		p.Refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Refresh resolves the DNS name once and applies the result. A failed lookup
// keeps the previous list.
func (p *Peers) Refresh(ctx context.Context) {
	host, port, _ := net.SplitHostPort(p.cfg.DNS)
	scheme := "http"
	if u, err := url.Parse(p.cfg.Self); err == nil {
		scheme = u.Scheme
	}
	lctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	addrs, err := p.resolver.LookupHost(lctx, host)
	if err != nil {
		p.refreshErr.Inc()
		p.log.Warn("peer lookup failed; keeping the previous peers", "dns", p.cfg.DNS, "error", err)
		return
	}
	peers := make([]string, 0, len(addrs))
	for _, a := range addrs {
		peers = append(peers, scheme+"://"+net.JoinHostPort(a, port))
	}
	p.apply(peers)
}

// apply sets the pool's peers (self always included) when they changed.
func (p *Peers) apply(peers []string) {
	all := append([]string{p.cfg.Self}, peers...)
	slices.Sort(all)
	all = slices.Compact(all)
	p.mu.Lock()
	same := slices.Equal(all, p.current)
	if !same {
		p.current = all
	}
	p.mu.Unlock()
	if same {
		return
	}
	p.pool.Set(all...)
	p.change.Inc()
	p.log.Info("groupcache peers", "count", len(all), "peers", all)
}
