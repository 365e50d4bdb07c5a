package transform

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"

	"github.com/bookcovers/image-worker/cover"
)

// TestRenderPhases checks the time split of a render: one queue, one
// decode_resize and one encode observation per render, both worker phases
// above zero, and together no longer than the render as the parent timed it.
func TestRenderPhases(t *testing.T) {
	r := newTestRenderer(t, nil)
	src := testdata(t, "photo-1600x2400-baseline.jpg")
	for _, f := range []cover.Format{cover.WebP, cover.AVIF} {
		render(t, r, src, Request{Width: 320, Format: f})
	}
	var buf bytes.Buffer
	r.Metrics().WritePrometheus(&buf)
	out := buf.String()
	value := func(name string) float64 {
		t.Helper()
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("metrics lack %s; got:\n%s", name, out)
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatalf("%s = %q: %v", name, m[1], err)
		}
		return v
	}
	for _, phase := range []string{"queue", "decode_resize", "encode"} {
		if n := value(PhaseMetric + `_count{phase="` + phase + `"}`); n != 2 {
			t.Errorf("%s count = %v, want 2 (one per render)", phase, n)
		}
	}
	decode := value(PhaseMetric + `_sum{phase="decode_resize"}`)
	encode := value(PhaseMetric + `_sum{phase="encode"}`)
	total := value(`covers_transform_render_duration_seconds_sum{format="webp"}`) + value(`covers_transform_render_duration_seconds_sum{format="avif"}`)
	if decode <= 0 || encode <= 0 {
		t.Errorf("decode_resize %v s, encode %v s: want both above zero", decode, encode)
	}
	if decode+encode > total {
		t.Errorf("decode_resize %v s + encode %v s > the renders' %v s as the parent timed them", decode, encode, total)
	}
}
