// Package cli is the plumbing of a command line with subcommands, as most
// tools behave: each subcommand's flags may come before or after its
// arguments, -h and --help print its usage line and every flag on stdout
// and exit 0, and a wrong command line exits 2 with one line on stderr.
// The subcommands themselves, their usage lines and what they do are the
// program's (cmd/image-worker).
//
// It exports no metrics.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit codes: 0 done (or --help), 1 the work failed, 2 the command line is
// wrong.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
)

// ErrUsage marks an error of the command line: a bad flag, a missing or
// extra argument, a value out of range. It exits 2.
var ErrUsage = errors.New("usage")

// ErrHelp is what a subcommand returns after printing its help for -h or
// --help: it exits 0 and prints nothing more.
var ErrHelp = flag.ErrHelp

// ExitCode maps what a subcommand returned to the process's exit code.
func ExitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, ErrHelp):
		return ExitOK
	case errors.Is(err, ErrUsage):
		return ExitUsage
	default:
		return ExitError
	}
}

// Parse parses a subcommand's flags, given before or after its positional
// arguments ("--" ends the flags), and returns the positional ones. For -h
// or --help it prints "usage: PROGRAM USAGE" (usage is the subcommand and
// its arguments) and every flag to stdout and returns ErrHelp; for a bad
// flag it returns ErrUsage with the flag package's one-line message.
func Parse(fs *flag.FlagSet, args []string, program, usage string, stdout io.Writer) ([]string, error) {
	fs.SetOutput(io.Discard) // errors are returned, help goes to stdout
	fs.Usage = func() {}
	var pos []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			printUsage(fs, program, usage, stdout)
			return nil, ErrHelp
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v (%s %s --help lists the flags)", ErrUsage, err, program, fs.Name())
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// printUsage writes "usage: PROGRAM USAGE" and every flag with its default.
func printUsage(fs *flag.FlagSet, program, usage string, w io.Writer) {
	fmt.Fprintf(w, "usage: %s %s\n", program, usage)
	var flags strings.Builder
	fs.SetOutput(&flags)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	if flags.Len() > 0 {
		fmt.Fprintf(w, "\nflags:\n%s", flags.String())
	}
}

// UsageError is ErrUsage with the usage line of a subcommand.
func UsageError(program, usage string) error {
	return fmt.Errorf("%w: %s %s", ErrUsage, program, usage)
}
