package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/bookcovers/image-worker/ingest"
)

// rowOutcome is what became of a row that did not fail.
type rowOutcome int

const (
	outcomeWarmed  rowOutcome = iota // the original was fetched and stored
	outcomeSkipped                   // the book was already at this source URL
)

// rowWarmer warms one book, in-process or through a running service.
type rowWarmer interface {
	warmRow(ctx context.Context, bookID, imageURL string) (rowOutcome, error)
}

// rowError is a row failure with a stable code (from the service, or from
// the input itself).
type rowError struct{ code, message string }

func (e *rowError) Error() string { return e.code + ": " + e.message }

// failureOf returns the code and message recorded for a failed row.
func failureOf(err error) (code, message string) {
	var re *rowError
	if errors.As(err, &re) {
		return re.code, re.message
	}
	return string(ingest.Code(err)), err.Error()
}

// runBackfill reads rows in order and warms them, at most concurrency at
// once. Rows of one book run one after another in file order, so the last
// row of a book wins. When ctx ends no new row starts; rows already started
// finish under inflight. It returns only a read error of the input.
func runBackfill(ctx, inflight context.Context, rows rowReader, w rowWarmer, concurrency int, prog *progress, fails *failureLog) error {
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
			outcome, err := w.warmRow(inflight, row.BookID, row.ImageURL)
			switch {
			case err != nil:
				code, msg := failureOf(err)
				fails.add(row.BookID, row.ImageURL, code, msg)
				prog.failed.Add(1)
			case outcome == outcomeSkipped:
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
