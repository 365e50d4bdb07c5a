package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/bookcovers/image-worker/internal/buildinfo"
	"github.com/bookcovers/image-worker/transform"
)

// versionCmd prints the build information: image-worker version.
func versionCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	pos, err := parseFlags(fs, args, stdout)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageErr("version")
	}
	fmt.Fprint(stdout, buildinfo.Read(transform.LibvipsVersion()))
	return nil
}
