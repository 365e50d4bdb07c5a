// Command image-worker is the book-cover image origin. Subcommands:
//
//	serve              run the HTTP service (default)
//	sign PATH          print a signed cover path
//	import --book ID FILE   store a local file as a book's original
//	health             exit 0 when the local service answers /health
//	keygen             print a new random signing key (hex)
//	redrive [-max N] [-since T] [-until T]   copy dead letters back to the main topic
//	backfill [--concurrency 8] [--server URL] [--failures F] FILE   warm every cover listed in a CSV or JSON Lines file
//	contact-sheet [--out FILE.png] [--server URL] BOOK_ID   render a book's presets side by side into a PNG
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/bookcovers/image-worker/transform"
)

// renderWorkerCmd is the hidden subcommand a render worker process runs.
const renderWorkerCmd = "render-worker"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serveCmd(ctx, lookup, stderr)
	case "sign":
		err = signCmd(args, lookup, stdout)
	case "import":
		err = importCmd(ctx, args, lookup, stdout, stderr)
	case "health":
		err = healthCmd(ctx, args, lookup, stdout)
	case "keygen":
		err = keygenCmd(stdout)
	case "redrive":
		err = redriveCmd(ctx, args, lookup, stdout, stderr)
	case "backfill":
		err = backfillCmd(ctx, args, lookup, stdout, stderr)
	case "contact-sheet":
		err = contactSheetCmd(ctx, args, lookup, stdout, stderr)
	case renderWorkerCmd:
		// Internal: started by the service itself, one process per render
		// slot; speaks a binary protocol on stdin/stdout.
		err = transform.ServeWorker(os.Stdin, os.Stdout, newLogger(stderr, slog.LevelWarn))
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, "usage: image-worker [serve|sign PATH|import --book ID FILE|health|keygen|redrive [-max N] [-since T] [-until T]|backfill [--concurrency 8] [--server URL] [--failures F] FILE|contact-sheet [--out FILE.png] [--server URL] BOOK_ID]")
		return 0
	default:
		err = fmt.Errorf("%w: unknown command %q (serve, sign, import, health, keygen, redrive, backfill, contact-sheet)", errUsage, cmd)
	}
	if err != nil {
		fmt.Fprintf(stderr, "image-worker %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}
