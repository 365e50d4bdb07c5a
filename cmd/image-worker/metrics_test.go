package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestWriteFamiliesGroupsEachFamilyOnce(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			name: "a counter written by two sets is one group with one HELP and TYPE",
			in: "# HELP covers_panics_total\n# TYPE covers_panics_total counter\ncovers_panics_total{component=\"a\"} 0\n" +
				"# HELP covers_x\n# TYPE covers_x gauge\ncovers_x 1\n" +
				"# HELP covers_panics_total\n# TYPE covers_panics_total counter\ncovers_panics_total{component=\"b\"} 2\n",
			want: "# HELP covers_panics_total\n# TYPE covers_panics_total counter\ncovers_panics_total{component=\"a\"} 0\ncovers_panics_total{component=\"b\"} 2\n" +
				"# HELP covers_x\n# TYPE covers_x gauge\ncovers_x 1\n",
		},
		{
			name: "a histogram keeps its _bucket, _sum and _count samples under its TYPE",
			in: "# HELP covers_d_seconds\n# TYPE covers_d_seconds histogram\ncovers_d_seconds_bucket{le=\"1\"} 1\ncovers_d_seconds_bucket{le=\"+Inf\"} 1\ncovers_d_seconds_sum 0.5\ncovers_d_seconds_count 1\n" +
				"# HELP covers_d_seconds_total\n# TYPE covers_d_seconds_total counter\ncovers_d_seconds_total 3\n",
			want: "# HELP covers_d_seconds\n# TYPE covers_d_seconds histogram\ncovers_d_seconds_bucket{le=\"1\"} 1\ncovers_d_seconds_bucket{le=\"+Inf\"} 1\ncovers_d_seconds_sum 0.5\ncovers_d_seconds_count 1\n" +
				"# HELP covers_d_seconds_total\n# TYPE covers_d_seconds_total counter\ncovers_d_seconds_total 3\n",
		},
		{
			name: "without metadata the samples are grouped by name",
			in:   "a 1\nb{x=\"1\"} 2\na 3\n",
			want: "a 1\na 3\nb{x=\"1\"} 2\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			writeFamilies(&out, []byte(tt.in))
			if out.String() != tt.want {
				t.Errorf("writeFamilies(%q) =\n%s\nwant\n%s", tt.in, out.String(), tt.want)
			}
		})
	}
}

func TestBuildInfoSetEscapesLabelValues(t *testing.T) {
	var out bytes.Buffer
	buildInfoSet(buildInfo{Version: `v1.2.3`, Revision: `ab"c\d`, GoVersion: "go1.26.8", LibvipsVersion: "8.14.1"}).WritePrometheus(&out)
	want := `covers_build_info{version="v1.2.3",revision="ab\"c\\d",go_version="go1.26.8",libvips_version="8.14.1"} 1`
	if !strings.Contains(out.String(), want) {
		t.Errorf("buildInfoSet wrote\n%s\nwant a line %s", out.String(), want)
	}
}
