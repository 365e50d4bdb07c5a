package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// healthCmd checks the local service's /health, for the container HEALTHCHECK.
func healthCmd(ctx context.Context, args []string, lookup func(string) (string, bool), stdout io.Writer) error {
	pos, err := parseArgs(flag.NewFlagSet("health", flag.ContinueOnError), args, usageOf("health"), stdout)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError(usageOf("health"))
	}
	e := &env{lookup: lookup}
	addr := e.str("LISTEN_ADDR", ":8000")
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("LISTEN_ADDR=%q: %w", addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/health", nil)
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
	fmt.Fprintln(stdout, "ok")
	return nil
}
