package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func newFlags() (*flag.FlagSet, *int, *bool) {
	fs := flag.NewFlagSet("copy", flag.ContinueOnError)
	n := fs.Int("n", 1, "how many copies")
	force := fs.Bool("force", false, "overwrite")
	return fs, n, force
}

func TestParseTakesFlagsBeforeAndAfterArguments(t *testing.T) {
	for _, args := range [][]string{
		{"-n", "3", "--force", "a", "b"},
		{"a", "-n", "3", "b", "--force"},
		{"a", "b", "-force", "-n=3"},
	} {
		fs, n, force := newFlags()
		var out bytes.Buffer
		pos, err := Parse(fs, args, "tool", "copy [-n N] SRC DST", &out)
		if err != nil || *n != 3 || !*force || !slices.Equal(pos, []string{"a", "b"}) || out.Len() != 0 {
			t.Errorf("%q: pos %q n %d force %v err %v out %q", args, pos, *n, *force, err, out.String())
		}
	}
	fs, _, force := newFlags()
	pos, err := Parse(fs, []string{"a", "--", "-force", "b"}, "tool", "copy", &bytes.Buffer{})
	if err != nil || *force || !slices.Equal(pos, []string{"a", "-force", "b"}) {
		t.Errorf("after --: pos %q force %v err %v; want the rest as arguments", pos, *force, err)
	}
}

func TestParseHelpAndBadFlags(t *testing.T) {
	for _, help := range []string{"-h", "--help"} {
		fs, _, _ := newFlags()
		var out bytes.Buffer
		_, err := Parse(fs, []string{"a", help}, "tool", "copy [-n N] SRC DST", &out)
		if !errors.Is(err, ErrHelp) || ExitCode(err) != ExitOK {
			t.Errorf("%s: err %v (exit %d), want ErrHelp and exit 0", help, err, ExitCode(err))
		}
		if !strings.HasPrefix(out.String(), "usage: tool copy [-n N] SRC DST\n") || !strings.Contains(out.String(), "  -force") || !strings.Contains(out.String(), "how many copies (default 1)") {
			t.Errorf("%s printed %q, want the usage line and every flag", help, out.String())
		}
	}
	fs, _, _ := newFlags()
	var out bytes.Buffer
	_, err := Parse(fs, []string{"-nope"}, "tool", "copy", &out)
	if !errors.Is(err, ErrUsage) || ExitCode(err) != ExitUsage || out.Len() != 0 {
		t.Fatalf("bad flag: err %v, exit %d, out %q; want ErrUsage, 2, nothing on stdout", err, ExitCode(err), out.String())
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "-nope") || !strings.Contains(msg, "tool copy --help") {
		t.Errorf("bad flag message %q: want one line naming the flag and the help", msg)
	}
}

func TestExitCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{fmt.Errorf("wrapped: %w", ErrHelp), ExitOK},
		{UsageError("tool", "copy SRC DST"), ExitUsage},
		{errors.New("disk full"), ExitError},
	} {
		if got := ExitCode(c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
	if msg := UsageError("tool", "copy SRC DST").Error(); msg != "usage: tool copy SRC DST" {
		t.Errorf("UsageError = %q", msg)
	}
}
