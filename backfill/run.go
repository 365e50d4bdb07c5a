package backfill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
)

// Outcome is what became of a row that did not fail.
type Outcome int

const (
	Warmed  Outcome = iota // the original was fetched and stored
	Skipped                // the book was already at this source URL
)

// RowWarmer warms one book: in-process (LocalWarmer) or through a running
// service (ServerWarmer). A failure's code is ingest.Code of the error
// unless the warmer gave it one itself.
type RowWarmer interface {
	WarmRow(ctx context.Context, bookID, imageURL string) (Outcome, error)
}

// rowError is a row failure with a stable code (from the service, or from
// the input itself) and, for a refused placeholder, its reason.
type rowError struct{ code, message, reason string }

func (e *rowError) Error() string { return e.code + ": " + e.message }

// failureOf returns the code and message recorded for a failed row: the
// service's own when it refused the row (ServerWarmer); the message of a
// refused placeholder starts with its reason.
func failureOf(err error) (code, message string) {
	var re *rowError
	var se *cover.ServiceError
	switch {
	case errors.As(err, &re):
		code, message = re.code, re.message
	case errors.As(err, &se):
		code, message = string(se.Code), se.Message
	default:
		code, message = string(ingest.Code(err)), err.Error()
	}
	if reason, ok := refusalOf(err); ok {
		message = "reason " + reason + ": " + message
	}
	return code, message
}

// refusalOf returns the reason of a row whose original was refused as a
// placeholder (in process: the Warmer's error; through a service: the job's
// code and reason), and false for any other failure.
func refusalOf(err error) (string, bool) {
	var re *rowError
	if errors.As(err, &re) {
		return re.reason, re.code == string(cover.CodePlaceholderImage)
	}
	reason, ok := ingest.PlaceholderReasonOf(err)
	return string(reason), ok
}

// Run warms every row of in with w, cfg.Concurrency at once, and reports
// to stdout (the summary) and stderr (progress, the interrupt notice).
// Failed rows go to the failures file. When ctx ends no new row starts and
// the rows in flight finish; a second SIGINT or SIGTERM abandons them.
// The error joins what went wrong: failed rows, an interruption
// (ErrInterrupted), a read error of the input, a write error of the
// failures file; a wrong setting wraps ErrSetting and comes before any
// work. stderr is written from more than one goroutine, as os.Stderr may
// be.
func Run(ctx context.Context, cfg Config, in Input, w RowWarmer, stdout, stderr io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	failures := cfg.Failures
	if failures == "" {
		failures = defaultFailuresPath(in.Path)
	}
	fails, err := openFailureLog(failures, in.Path)
	if err != nil {
		return err
	}
	f, err := os.Open(in.Path)
	if err != nil {
		fails.close()
		return fmt.Errorf("%w: %v", ErrInput, err)
	}
	defer f.Close()
	rows, err := newRowReader(f, in.Path)
	if err != nil {
		fails.close()
		return err
	}
	prog := newProgress(stderr, in.Rows, cfg.ProgressEvery)
	inflight, abort := interruptibleInFlight(ctx, stderr, prog.tty())
	defer abort()
	readErr := runRows(ctx, inflight, rows, w, cfg.Concurrency, prog, fails)
	return summarise(ctx, stdout, prog, fails, readErr)
}

// runRows reads rows in order and warms them, at most concurrency at
// once. Rows of one book run one after another in file order, so the last
// row of a book wins. When ctx ends no new row starts; rows already started
// finish under inflight. It returns only a read error of the input.
func runRows(ctx, inflight context.Context, rows rowReader, w RowWarmer, concurrency int, prog *progress, fails *failureLog) error {
	sem := make(chan struct{}, concurrency)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		latest = map[string]chan struct{}{} // book -> done channel of its last started row
	)
	prog.begin()
	defer prog.end()
	defer wg.Wait()
	for ctx.Err() == nil {
		row, err := rows.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if row.Code != "" {
			fails.add(row.BookID, row.ImageURL, row.Code, fmt.Sprintf("line %d: %s", row.Line, row.Message))
			prog.failed.Add(1)
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		if ctx.Err() != nil { // both were ready: an interrupt wins
			return nil
		}
		done := make(chan struct{})
		mu.Lock()
		prev := latest[row.BookID]
		latest[row.BookID] = done
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if prev != nil {
				<-prev
			}
			outcome, err := w.WarmRow(inflight, row.BookID, row.ImageURL)
			switch {
			case err != nil:
				code, msg := failureOf(err)
				fails.add(row.BookID, row.ImageURL, code, msg)
				if reason, ok := refusalOf(err); ok {
					prog.refuse(reason) // a final answer about the source, not a failure
				} else {
					prog.failed.Add(1)
				}
			case outcome == Skipped:
				prog.skipped.Add(1)
			default:
				prog.warmed.Add(1)
			}
			mu.Lock()
			if latest[row.BookID] == done {
				delete(latest, row.BookID)
			}
			mu.Unlock()
			close(done)
		}()
	}
	return nil
}

// interruptibleInFlight returns the context rows already started run under:
// it outlives ctx, so an interrupt lets them finish, but a second interrupt
// (or abort) cancels them.
func interruptibleInFlight(ctx context.Context, stderr io.Writer, tty bool) (context.Context, func()) {
	inflight, cancel := context.WithCancel(context.WithoutCancel(ctx))
	finished := make(chan struct{})
	go func() {
		select {
		case <-finished:
			return
		case <-ctx.Done():
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sig)
		if tty {
			fmt.Fprintln(stderr) // keep the progress line
		}
		fmt.Fprintln(stderr, "backfill: interrupted: no new rows; letting rows in flight finish (interrupt again to abandon them)")
		select {
		case <-sig:
			cancel()
		case <-finished:
		}
	}()
	var once sync.Once
	return inflight, func() { once.Do(func() { close(finished); cancel() }) }
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
	if refused := prog.refused.Load(); refused > 0 {
		fmt.Fprintf(stdout, "backfill: refused as placeholders: %d (%s) (listed in %s)\n", refused, prog.refusedByReason(), fails.path)
	}
	errs := []error{fails.close()}
	if readErr != nil {
		errs = append(errs, fmt.Errorf("stopped at a read error: %w", readErr))
	}
	if interrupted {
		fmt.Fprintln(stdout, "backfill: re-run the same command to resume: books already at their URL are skipped")
		errs = append(errs, fmt.Errorf("%w: %d of %d rows not processed", ErrInterrupted, prog.total-n, prog.total))
	}
	if failed > 0 {
		errs = append(errs, fmt.Errorf("%d rows failed (listed in %s)", failed, fails.path))
	}
	return errors.Join(errs...)
}
