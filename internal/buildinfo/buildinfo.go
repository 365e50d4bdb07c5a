// Package buildinfo describes the running binary: its module version, the
// VCS revision it was built from, the Go toolchain and the libvips it was
// compiled against, for `image-worker version` and the covers_build_info
// metric.
//
// Metrics: covers_build_info{version,revision,go_version,libvips_version} 1,
// in the set Metrics returns (the serving process exports it, so dashboards
// can tell which build each replica runs).
package buildinfo

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/VictoriaMetrics/metrics"
)

// Info describes a build.
type Info struct {
	Version, Revision, GoVersion, LibvipsVersion string
	Modified                                     bool // built from a tree with uncommitted changes
}

// Read returns this binary's build, with libvips the version of the
// libvips it was compiled against (transform.LibvipsVersion).
func Read(libvips string) Info {
	b := Info{Version: "(devel)", Revision: "unknown", LibvipsVersion: libvips}
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

// String is what `version` prints: the program and version, the revision
// (marked when modified), the Go toolchain and libvips, a line each.
func (b Info) String() string {
	modified := ""
	if b.Modified {
		modified = " (modified)"
	}
	return fmt.Sprintf("image-worker %s\nrevision %s%s\n%s\nlibvips %s\n", b.Version, b.Revision, modified, b.GoVersion, b.LibvipsVersion)
}

// Metrics returns a new set holding covers_build_info for b.
func (b Info) Metrics() *metrics.Set {
	set := metrics.NewSet()
	name := fmt.Sprintf(`covers_build_info{version="%s",revision="%s",go_version="%s",libvips_version="%s"}`,
		labelValue(b.Version), labelValue(b.Revision), labelValue(b.GoVersion), labelValue(b.LibvipsVersion))
	set.NewGauge(name, func() float64 { return 1 })
	return set
}

// labelValue escapes a label value as the exposition format wants it:
// backslash, double quote and line feed.
func labelValue(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
