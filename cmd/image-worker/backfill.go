package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
)

// errInterrupted reports a backfill stopped before the end of its input.
var errInterrupted = errors.New("interrupted")

// backfillCmd warms every cover listed in FILE:
// image-worker backfill [--concurrency 8] [--server URL] [--failures F] [--refresh] FILE
func backfillCmd(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	concurrency := fs.Int("concurrency", 8, "covers warmed at once")
	server := fs.String("server", "", "warm through a running service at this base URL (POST /process, GET /jobs/{id}) instead of in-process")
	failures := fs.String("failures", "", "CSV file for failed rows (default: next to the input, FILE.failures.csv)")
	refresh := fs.Bool("refresh", false, "download every original again, even when the book is already at the same URL")
	every := fs.Duration("progress-every", 5*time.Second, "interval of the plain progress lines when stderr is not a terminal")
	pos, err := parseArgs(fs, args, usageOf("backfill"), stdout)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError(usageOf("backfill"))
	}
	if *concurrency < 1 || *concurrency > 1024 {
		return fmt.Errorf("%w: --concurrency must be 1..1024", errUsage)
	}
	if *every <= 0 {
		return fmt.Errorf("%w: --progress-every must be positive", errUsage)
	}
	input := pos[0]
	var warmer rowWarmer
	if *server != "" {
		// The service's PROCESS_TOKENS, when it has some: one of them, from
		// PROCESS_TOKEN or the file PROCESS_TOKEN_FILE names (never a flag,
		// which every user of the machine could read in ps).
		e := &env{lookup: lookup}
		token := e.secret("PROCESS_TOKEN")
		if err := errors.Join(e.errs...); err != nil {
			return err
		}
		if warmer, err = newServerWarmer(*server, *refresh, token); err != nil {
			return err
		}
	}
	total, err := countInput(input)
	if err != nil {
		return err
	}
	var local *localWarmer
	if warmer == nil {
		l, closeFn, err := newLocalWarmer(ctx, lookup, stderr, *refresh)
		if err != nil {
			return err
		}
		defer closeFn()
		warmer, local = l, l
	}
	if *failures == "" {
		*failures = defaultFailuresPath(input)
	}
	fails, err := openFailureLog(*failures, input)
	if err != nil {
		return err
	}
	f, err := os.Open(input)
	if err != nil {
		fails.close()
		return fmt.Errorf("%w: %v", errBackfillInput, err)
	}
	defer f.Close()
	rows, err := newRowReader(f, input)
	if err != nil {
		fails.close()
		return err
	}
	prog := newProgress(stderr, total, *every)
	inflight, abort := interruptibleInFlight(ctx, stderr, prog.tty)
	defer abort()
	readErr := runBackfill(ctx, inflight, rows, warmer, *concurrency, prog, fails)
	err = summarise(ctx, stdout, prog, fails, readErr)
	if local != nil && local.prerender.Enabled() {
		books, variants := local.prerender.Prerendered()
		fmt.Fprintf(stdout, "backfill: PRERENDER: %d variants stored for %d books, one render operation per book\n", variants, books)
	}
	return err
}

// newLocalWarmer builds the in-process pipeline from the service's own
// configuration. Its logger logs warnings and errors only: a line per stored
// original would bury the progress line, and failures go to the failures file.
func newLocalWarmer(ctx context.Context, lookup func(string) (string, bool), stderr io.Writer, refresh bool) (*localWarmer, func(), error) {
	cfg, err := loadConfig(lookup)
	if err != nil {
		return nil, nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	logger := newLogger(stderr, max(cfg.LogLevel, slog.LevelWarn))
	// prerenderInline: each warmed book's PRERENDER variants are rendered
	// (one ladder, one decode per shrink-on-load level) before its row
	// counts as done.
	p, err := assemble(ctx, cfg, logger, assembly{prerender: prerenderInline})
	if err != nil {
		return nil, nil, err
	}
	closeAll := func() { p.close() }
	return &localWarmer{warmer: p.warmer, manifests: p.manifests, prerender: p.prerender, outbox: p.outbox, refresh: refresh, timeout: cfg.Jobs.Timeout}, closeAll, nil
}

// localWarmer warms rows with the service's Warmer against the configured store.
type localWarmer struct {
	warmer    *ingest.Warmer
	manifests *cache.Manifests
	prerender *ingest.Prerenderer // runs inline in Warm: PRERENDER variants of each stored original
	outbox    *ingest.Outbox      // nil: nothing is written back; else warmed rows queue their write-back here
	refresh   bool
	timeout   time.Duration // a job's budget: fetch plus store
}

// warmRow calls Warmer.Warm, whose own idempotence skips a book already at
// the same source URL; the manifest read first only tells the two apart.
func (l *localWarmer) warmRow(ctx context.Context, bookID, imageURL string) (rowOutcome, error) {
	wctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	if !l.refresh && cover.ValidBookID(bookID) == nil {
		if m, err := l.manifests.Load(wctx, bookID); err == nil && m.SourceURL == imageURL {
			return outcomeSkipped, nil
		}
	}
	// A row orders against the book's other covers by when it is warmed,
	// just after it was read: a later row of the same book wins. Warm
	// renders the PRERENDER variants of a stored original (its own budget)
	// before it returns.
	m, err := l.warmer.Warm(wctx, bookID, imageURL, l.refresh, time.Now())
	if err != nil {
		return 0, err
	}
	// The write-back has a budget of its own, after any prerender.
	rctx, cancelWB := context.WithTimeout(ctx, l.timeout)
	defer cancelWB()
	if err := recordWriteBack(rctx, l.outbox, m); err != nil {
		// A re-run would skip the book (already at this URL): the code
		// tells the operator to re-run the row with --refresh.
		return 0, &rowError{code: "writeback_not_queued", message: err.Error()}
	}
	return outcomeWarmed, nil
}

// summarise prints the outcome and returns an error when the run was
// interrupted, rows failed, or the input could not be read to the end.
func summarise(ctx context.Context, stdout io.Writer, prog *progress, fails *failureLog, readErr error) error {
	elapsed := prog.now().Sub(prog.start)
	n := prog.processed()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(n) / elapsed.Seconds()
	}
	interrupted := ctx.Err() != nil && (prog.total == 0 || n < prog.total)
	head := fmt.Sprintf("backfill: %d rows", n)
	if interrupted {
		head = fmt.Sprintf("backfill: interrupted after %d of %d rows", n, prog.total)
	}
	failed := prog.failed.Load()
	fmt.Fprintf(stdout, "%s in %s (%.1f covers/s): %d warmed, %d skipped (already current), %d failed",
		head, elapsed.Round(10*time.Millisecond), rate, prog.warmed.Load(), prog.skipped.Load(), failed)
	if failed > 0 {
		fmt.Fprintf(stdout, " (listed in %s)", fails.path)
	}
	fmt.Fprintln(stdout)
	errs := []error{fails.close()}
	if readErr != nil {
		errs = append(errs, fmt.Errorf("stopped at a read error: %w", readErr))
	}
	if interrupted {
		fmt.Fprintln(stdout, "backfill: re-run the same command to resume: books already at their URL are skipped")
		errs = append(errs, fmt.Errorf("%w: %d of %d rows not processed", errInterrupted, prog.total-n, prog.total))
	}
	if failed > 0 {
		errs = append(errs, fmt.Errorf("%d rows failed (listed in %s)", failed, fails.path))
	}
	return errors.Join(errs...)
}

// countInput counts the rows of the input for the progress total, and
// checks its header before anything is warmed.
func countInput(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", errBackfillInput, err)
	}
	defer f.Close()
	rows, err := newRowReader(f, path)
	if err != nil {
		return 0, err
	}
	return countRows(rows)
}
