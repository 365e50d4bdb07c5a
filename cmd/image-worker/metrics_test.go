package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestBuildInfoSetEscapesLabelValues(t *testing.T) {
	var out bytes.Buffer
	buildInfoSet(buildInfo{Version: `v1.2.3`, Revision: `ab"c\d`, GoVersion: "go1.26.8", LibvipsVersion: "8.14.1"}).WritePrometheus(&out)
	want := `covers_build_info{version="v1.2.3",revision="ab\"c\\d",go_version="go1.26.8",libvips_version="8.14.1"} 1`
	if !strings.Contains(out.String(), want) {
		t.Errorf("buildInfoSet wrote\n%s\nwant a line %s", out.String(), want)
	}
}
