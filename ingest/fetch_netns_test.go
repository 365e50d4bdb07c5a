package ingest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"testing"
	"time"

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
