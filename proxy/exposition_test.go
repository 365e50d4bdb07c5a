package proxy

import (
	"bytes"
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
