package proxy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// probeTimeout bounds one health probe.
const probeTimeout = 3 * time.Second

// HealthURL is the /health URL of the service listening on listenAddr
// (LISTEN_ADDR), as a probe on the same machine reaches it: an unspecified
// host (":8000", 0.0.0.0, ::) is 127.0.0.1. An address without a port is
// net.SplitHostPort's error.
func HealthURL(listenAddr string) (string, error) {
	host, port, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return "", err
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/health", nil
}

// CheckHealth asks url (HealthURL) for the service's liveness, within 3
// seconds: nil when it answers 200. It is the container's HEALTHCHECK
// (image-worker health).
func CheckHealth(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: status %d", resp.StatusCode)
	}
	return nil
}
