package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/bookcovers/image-worker/transform"
)

// Exit codes, as most command-line tools use them: 0 done (or --help), 1 the
// work failed, 2 the command line is wrong.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// errUsage marks an error of the command line: a bad flag, a missing or
// extra argument, a value out of range. It exits 2.
var errUsage = errors.New("usage")

// errHelp is what a subcommand returns after printing its help for -h or
// --help: it exits 0.
var errHelp = flag.ErrHelp

// exitCode maps what a subcommand returned to the process's exit code.
func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, errHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	default:
		return exitError
	}
}

// parseArgs parses a subcommand's flags, given before or after its
// positional arguments, and returns the positional ones. For -h or --help
// it prints usage (one line: the command and its arguments) and every flag
// to stdout and returns errHelp; for a bad flag it returns errUsage with
// the flag package's one-line message.
func parseArgs(fs *flag.FlagSet, args []string, usage string, stdout io.Writer) ([]string, error) {
	fs.SetOutput(io.Discard) // errors are returned, help goes to stdout
	fs.Usage = func() {}
	var pos []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			printUsage(fs, usage, stdout)
			return nil, errHelp
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v (image-worker %s --help lists the flags)", errUsage, err, fs.Name())
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

// printUsage writes "usage: image-worker USAGE" and every flag with its
// default.
func printUsage(fs *flag.FlagSet, usage string, w io.Writer) {
	fmt.Fprintf(w, "usage: image-worker %s\n", usage)
	var flags strings.Builder
	fs.SetOutput(&flags)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	if flags.Len() > 0 {
		fmt.Fprintf(w, "\nflags:\n%s", flags.String())
	}
}

// usageError is errUsage with the usage line of a subcommand.
func usageError(usage string) error {
	return fmt.Errorf("%w: image-worker %s", errUsage, usage)
}

// buildInfo describes this binary: its module version, the VCS revision it
// was built from, the Go toolchain and the libvips it was compiled against.
type buildInfo struct {
	Version, Revision, GoVersion, LibvipsVersion string
	Modified                                     bool
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: "(devel)", Revision: "unknown", LibvipsVersion: transform.LibvipsVersion()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.GoVersion = info.GoVersion
	if v := info.Main.Version; v != "" {
		b.Version = v
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// versionCmd prints the build information: image-worker version.
func versionCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	pos, err := parseArgs(fs, args, "version", stdout)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError("version")
	}
	b := readBuildInfo()
	modified := ""
	if b.Modified {
		modified = " (modified)"
	}
	fmt.Fprintf(stdout, "image-worker %s\nrevision %s%s\n%s\nlibvips %s\n", b.Version, b.Revision, modified, b.GoVersion, b.LibvipsVersion)
	return nil
}
