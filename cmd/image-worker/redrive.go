package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/events"
	"github.com/bookcovers/image-worker/internal/cli"
	"github.com/bookcovers/image-worker/internal/env"
)

// redriveCmd copies dead letters back to the main topic:
// image-worker redrive [-max N] [-since 1h|RFC3339] [-until RFC3339]
func redriveCmd(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("redrive", flag.ContinueOnError)
	maxN := fs.Int("max", 0, "redrive at most N records (0: no count bound)")
	since := fs.String("since", "", "only dead letters at or after this time: a duration ago (1h) or RFC3339")
	until := fs.String("until", "", "only dead letters up to this time: a duration ago or RFC3339 (default: now)")
	pos, err := parseFlags(fs, args, stdout)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageErr("redrive")
	}
	now := time.Now()
	opts := events.RedriveOptions{Max: *maxN}
	if opts.Since, err = events.ParseRedriveTime(*since, now); err != nil {
		return fmt.Errorf("%w: -since: %v", cli.ErrUsage, err)
	}
	if opts.Until, err = events.ParseRedriveTime(*until, now); err != nil {
		return fmt.Errorf("%w: -until: %v", cli.ErrUsage, err)
	}
	if *maxN < 0 {
		return fmt.Errorf("%w: -max must not be negative", cli.ErrUsage)
	}
	e := env.New(lookup)
	cfg := events.ConfigFromEnv(e)
	cfg.Bucket = cache.BucketFromEnv(e)
	if err := e.Err(); err != nil {
		return err
	}
	if len(cfg.Brokers) == 0 {
		return errors.New("KAFKA_BROKERS is empty")
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	n, err := events.Redrive(ctx, cfg, opts, newLogger(stderr, 0))
	if err != nil {
		return fmt.Errorf("redrive after %d records: %w", n, err)
	}
	fmt.Fprintf(stdout, "redrove %d records from %s to %s\n", n, cfg.DLQTopic, cfg.Topic)
	return nil
}
