package proxy

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr, want string
		wantErr    bool
	}{
		{":8000", "http://127.0.0.1:8000/health", false},
		{"0.0.0.0:8000", "http://127.0.0.1:8000/health", false},
		{"[::]:8000", "http://127.0.0.1:8000/health", false},
		{"127.0.0.2:9000", "http://127.0.0.2:9000/health", false},
		{"[::1]:8000", "http://[::1]:8000/health", false},
		{"localhost:80", "http://localhost:80/health", false},
		{"8000", "", true},
		{"", "", true},
	}
	for _, tc := range tests {
		got, err := HealthURL(tc.addr)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("HealthURL(%q) = %q, %v; want %q, error %v", tc.addr, got, err, tc.want, tc.wantErr)
		}
	}
}

// TestCheckHealth probes the service's own /health, then what is not it.
func TestCheckHealth(t *testing.T) {
	t.Parallel()
	srv, err := New(DefaultConfig(), wired(Deps{Logger: slog.New(slog.DiscardHandler)}))
	if err != nil {
		t.Fatal(err)
	}
	service := httptest.NewServer(srv.Public())
	defer service.Close()
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL, _ := HealthURL(closed.Addr().String())
	closed.Close()
	healthURL := func(base string) string {
		u, err := HealthURL(strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	tests := []struct {
		name string
		url  string
		want string // "" for nil
	}{
		{"the service", healthURL(service.URL), ""},
		{"something else answers", healthURL(other.URL), "health: status 404"},
		{"nothing listens", closedURL, "connection refused"},
	}
	for _, tc := range tests {
		err := CheckHealth(context.Background(), tc.url)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: CheckHealth(%s) = %v, want %q", tc.name, tc.url, err, tc.want)
		}
	}
}
