package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/bookcovers/image-worker/backfill"
	"github.com/bookcovers/image-worker/ingest"
	"github.com/bookcovers/image-worker/internal/cli"
	"github.com/bookcovers/image-worker/internal/env"
)

// backfillCmd warms every cover listed in FILE (the work is package
// backfill's):
// image-worker backfill [--concurrency 8] [--server URL] [--failures F] [--refresh] FILE
func backfillCmd(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	bcfg := backfill.DefaultConfig()
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	fs.IntVar(&bcfg.Concurrency, "concurrency", bcfg.Concurrency, "covers warmed at once")
	server := fs.String("server", "", "warm through a running service at this base URL (POST /process, GET /jobs/{id}) instead of in-process")
	fs.StringVar(&bcfg.Failures, "failures", "", "CSV file for failed rows (default: next to the input, FILE.failures.csv)")
	refresh := fs.Bool("refresh", false, "download every original again, even when the book is already at the same URL")
	fs.DurationVar(&bcfg.ProgressEvery, "progress-every", bcfg.ProgressEvery, "interval of the plain progress lines when stderr is not a terminal")
	pos, err := parseFlags(fs, args, stdout)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("backfill")
	}
	if err := bcfg.Validate(); err != nil {
		return backfillUsage(err)
	}
	var warmer backfill.RowWarmer
	if *server != "" {
		// The service's PROCESS_TOKENS, when it has some: one of them, from
		// PROCESS_TOKEN or the file PROCESS_TOKEN_FILE names (never a flag,
		// which every user of the machine could read in ps).
		e := env.New(lookup)
		token := e.Secret("PROCESS_TOKEN")
		if err := e.Err(); err != nil {
			return err
		}
		if warmer, err = backfill.NewServerWarmer(*server, *refresh, token); err != nil {
			return backfillUsage(err)
		}
	}
	// The input's header is checked before anything is built.
	input, err := backfill.CheckInput(pos[0])
	if err != nil {
		return err
	}
	var prerender *ingest.Prerenderer
	if warmer == nil {
		cfg, err := loadConfig(lookup)
		if err != nil {
			return fmt.Errorf("invalid configuration:\n%w", err)
		}
		// The service's own pipeline (assemble), its PRERENDER variants
		// rendered inline: each warmed book's ladder before its row counts
		// as done. Warnings and errors only: a line per stored original
		// would bury the progress line, and failures go to the failures file.
		p, err := assemble(ctx, cfg, newLogger(stderr, max(cfg.LogLevel, slog.LevelWarn)), assembly{prerender: prerenderInline})
		if err != nil {
			return err
		}
		defer p.close()
		deps := backfill.LocalDeps{Warmer: p.warmer, Manifests: p.manifests, Record: p.outbox.RecordStored}
		if p.outbox != nil {
			deps.RecordRefusal = p.outbox.Refused
		}
		if warmer, err = backfill.NewLocalWarmer(deps, *refresh, cfg.Jobs.Timeout); err != nil {
			return err
		}
		prerender = p.prerender
	}
	err = backfill.Run(ctx, bcfg, input, warmer, stdout, stderr)
	if prerender.Enabled() {
		books, variants := prerender.Prerendered()
		fmt.Fprintf(stdout, "backfill: PRERENDER: %d variants stored for %d books, one render operation per book; %d books shared a cover whose variants were stored already\n",
			variants, books, prerender.Present())
	}
	return backfillUsage(err)
}

// backfillUsage makes a wrong setting of the backfill (a flag's value) a
// usage error: it exits 2.
func backfillUsage(err error) error {
	if errors.Is(err, backfill.ErrSetting) {
		return fmt.Errorf("%w: %w", cli.ErrUsage, err)
	}
	return err
}
