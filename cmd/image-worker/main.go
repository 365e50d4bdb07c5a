// Command image-worker is the book-cover image origin. Subcommands:
//
//	serve            run the HTTP service (the default)
//	sign PATH        print a signed cover path
//	import           store a local file as a book's original
//	health           exit 0 when the local service answers /health
//	keygen           print a new random signing key (hex)
//	redrive          copy dead letters back to the main topic
//	backfill         warm every cover listed in a CSV or JSON Lines file
//	contact-sheet    render a book's presets side by side into a PNG
//	version          print the build information
//
// "image-worker COMMAND --help" shows a command's flags. Exit codes: 0 done,
// 1 the work failed, 2 the command line is wrong.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/bookcovers/image-worker/internal/cli"
	"github.com/bookcovers/image-worker/transform"
)

// program is the name the command line and its messages use.
const program = "image-worker"

// renderWorkerCmd is the hidden subcommand a render worker process runs.
const renderWorkerCmd = "render-worker"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usages are the subcommands' usage lines, in the order of the overview.
var usages = []struct{ name, usage string }{
	{"serve", "serve"},
	{"sign", "sign [--ttl 1h] /covers/BOOK_ID/SIZE.FORMAT[?v=VERSION]"},
	{"import", "import --book BOOK_ID FILE"},
	{"health", "health"},
	{"keygen", "keygen"},
	{"redrive", "redrive [--max N] [--since 1h|RFC3339] [--until 1h|RFC3339]"},
	{"backfill", "backfill [--concurrency 8] [--server URL] [--failures FILE] [--refresh] [--progress-every 5s] FILE.csv|FILE.jsonl"},
	{"contact-sheet", "contact-sheet [--out FILE.png] [--server URL] [--format webp|avif] [--scale 1] [--palette] BOOK_ID"},
	{"version", "version"},
}

// usageOf returns a subcommand's usage line.
func usageOf(name string) string {
	for _, u := range usages {
		if u.name == name {
			return u.usage
		}
	}
	return name
}

// overview prints every subcommand's usage line.
func overview(w io.Writer) {
	fmt.Fprintln(w, "usage: image-worker COMMAND [flags] [arguments]   (default COMMAND: serve)")
	fmt.Fprintln(w, "\ncommands:")
	for _, u := range usages {
		fmt.Fprintf(w, "  image-worker %s\n", u.usage)
	}
	fmt.Fprintln(w, "\nimage-worker COMMAND --help shows a command's flags; the service reads its configuration from the environment (README, Configuration).")
}

func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serveCmd(ctx, args, lookup, stdout, stderr)
	case "sign":
		err = signCmd(args, lookup, stdout)
	case "import":
		err = importCmd(ctx, args, lookup, stdout, stderr)
	case "health":
		err = healthCmd(ctx, args, lookup, stdout)
	case "keygen":
		err = keygenCmd(args, stdout)
	case "redrive":
		err = redriveCmd(ctx, args, lookup, stdout, stderr)
	case "backfill":
		err = backfillCmd(ctx, args, lookup, stdout, stderr)
	case "contact-sheet":
		err = contactSheetCmd(ctx, args, lookup, stdout, stderr)
	case "version", "--version", "-version":
		err = versionCmd(args, stdout)
	case renderWorkerCmd:
		// Internal: started by the service itself, one process per render
		// slot; speaks a binary protocol on stdin/stdout.
		err = transform.ServeWorker(os.Stdin, os.Stdout, newLogger(stderr, slog.LevelWarn))
	case "help", "-h", "--help", "-help":
		overview(stdout)
		return cli.ExitOK
	default:
		err = fmt.Errorf("%w: unknown command %q (image-worker --help lists them)", cli.ErrUsage, cmd)
	}
	if err != nil && !errors.Is(err, cli.ErrHelp) {
		fmt.Fprintf(stderr, "image-worker %s: %v\n", cmd, err)
	}
	return cli.ExitCode(err)
}

// parseFlags parses a subcommand's flags (cli.Parse) and prints its usage
// line (usages) for --help; fs is named after the subcommand.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, error) {
	return cli.Parse(fs, args, program, usageOf(fs.Name()), stdout)
}

// usageErr is the command-line error of subcommand name, with its usage line.
func usageErr(name string) error { return cli.UsageError(program, usageOf(name)) }

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}
