package buildinfo

import (
	"bytes"
	"strings"
	"testing"
)

func TestMetricsEscapesLabelValues(t *testing.T) {
	var out bytes.Buffer
	Info{Version: `v1.2.3`, Revision: `ab"c\d`, GoVersion: "go1.26.8", LibvipsVersion: "8.14.1"}.Metrics().WritePrometheus(&out)
	want := `covers_build_info{version="v1.2.3",revision="ab\"c\\d",go_version="go1.26.8",libvips_version="8.14.1"} 1`
	if !strings.Contains(out.String(), want) {
		t.Errorf("Metrics wrote\n%s\nwant a line %s", out.String(), want)
	}
}

func TestStringMarksAModifiedTree(t *testing.T) {
	b := Info{Version: "v1.0.0", Revision: "abc123", GoVersion: "go1.27.3", LibvipsVersion: "8.14.1", Modified: true}
	want := "image-worker v1.0.0\nrevision abc123 (modified)\ngo1.27.3\nlibvips 8.14.1\n"
	if got := b.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	b.Modified = false
	if got := b.String(); strings.Contains(got, "modified") {
		t.Errorf("unmodified build printed %q", got)
	}
}

func TestReadKeepsTheLibvipsVersion(t *testing.T) {
	b := Read("8.14.1")
	if b.LibvipsVersion != "8.14.1" || b.Version == "" || b.Revision == "" {
		t.Errorf("Read = %+v", b)
	}
	if !strings.HasPrefix(b.GoVersion, "go1.") {
		t.Errorf("GoVersion %q: a test binary carries its toolchain", b.GoVersion)
	}
}
