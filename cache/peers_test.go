package cache

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

type fakeResolver struct {
	mu    sync.Mutex
	addrs []string
	err   error
	calls int
}

func (f *fakeResolver) LookupHost(_ context.Context, host string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return slices.Clone(f.addrs), f.err
}

func (f *fakeResolver) set(addrs []string, err error) {
	f.mu.Lock()
	f.addrs, f.err = addrs, err
	f.mu.Unlock()
}

func TestPeersConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  PeersConfig
		ok   bool
	}{
		{"off", DefaultPeersConfig(), true},
		{"static", PeersConfig{Self: "http://10.0.0.1:8081", Static: []string{"http://10.0.0.2:8081"}, Refresh: time.Second, Timeout: time.Second}, true},
		{"dns", PeersConfig{Self: "http://10.0.0.1:8081", DNS: "covers-peers:8081", Refresh: time.Second, Timeout: time.Second}, true},
		{"peers without self", PeersConfig{Static: []string{"http://10.0.0.2:8081"}, Refresh: time.Second, Timeout: time.Second}, false},
		{"both", PeersConfig{Self: "http://a:1", Static: []string{"http://b:1"}, DNS: "c:1", Refresh: time.Second, Timeout: time.Second}, false},
		{"dns without port", PeersConfig{Self: "http://a:1", DNS: "peers", Refresh: time.Second, Timeout: time.Second}, false},
		{"self not a URL", PeersConfig{Self: "10.0.0.1:8081", Refresh: time.Second, Timeout: time.Second}, false},
	}
	for _, c := range cases {
		if err := c.cfg.Validate(); (err == nil) != c.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

// TestPeersFollowDNS: one pool per process (groupcache's rule), so one test
// covers joining, leaving and a failed lookup.
func TestPeersFollowDNS(t *testing.T) {
	r := &fakeResolver{addrs: []string{"127.0.0.1", "127.0.0.2"}}
	p, err := NewPeers(PeersConfig{Self: "http://127.0.0.1:8081", DNS: "covers-peers:8081", Refresh: time.Hour, Timeout: time.Second}, r, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Current(); !slices.Equal(got, []string{"http://127.0.0.1:8081"}) {
		t.Fatalf("before the first lookup: %v, want self only", got)
	}
	p.Refresh(t.Context())
	if got := p.Current(); !slices.Equal(got, []string{"http://127.0.0.1:8081", "http://127.0.0.2:8081"}) {
		t.Fatalf("after lookup: %v", got)
	}
	r.set([]string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}, nil)
	p.Refresh(t.Context())
	if got := p.Current(); len(got) != 3 {
		t.Fatalf("a replica joined: %v, want 3 peers", got)
	}
	r.set(nil, errors.New("SERVFAIL"))
	p.Refresh(t.Context())
	if got := p.Current(); len(got) != 3 {
		t.Fatalf("failed lookup changed the peers: %v", got)
	}
	r.set([]string{"127.0.0.1"}, nil)
	p.Refresh(t.Context())
	if got := p.Current(); !slices.Equal(got, []string{"http://127.0.0.1:8081"}) {
		t.Fatalf("replicas left: %v, want self only", got)
	}
	if p.refreshErr.Get() != 1 || p.change.Get() != 4 {
		t.Errorf("refresh errors %d, changes %d; want 1 and 4", p.refreshErr.Get(), p.change.Get())
	}
}
