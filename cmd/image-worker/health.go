package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/bookcovers/image-worker/internal/env"
	"github.com/bookcovers/image-worker/proxy"
)

// healthCmd checks the local service's /health, for the container HEALTHCHECK.
func healthCmd(ctx context.Context, args []string, lookup func(string) (string, bool), stdout io.Writer) error {
	pos, err := parseFlags(flag.NewFlagSet("health", flag.ContinueOnError), args, stdout)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageErr("health")
	}
	addr := env.New(lookup).Str("LISTEN_ADDR", ":8000")
	url, err := proxy.HealthURL(addr)
	if err != nil {
		return fmt.Errorf("LISTEN_ADDR=%q: %w", addr, err)
	}
	if err := proxy.CheckHealth(ctx, url); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}
