package backfill

import (
	"strings"
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_700_000_000, 0)
	cases := []struct {
		name                    string
		total                   int64
		tty                     bool
		warmed, skipped, failed int64
		after                   time.Duration
		want                    []string
	}{
		{"plain, half done", 1000, false, 400, 90, 10, 5 * time.Second,
			[]string{"500/1000 (50.0%)", "100.0 covers/s", "ETA 5s", "warmed 400", "skipped 90", "failed 10"}},
		{"terminal bar", 1000, true, 250, 0, 0, 10 * time.Second,
			[]string{"[======>                 ]", "250/1000 (25.0%)", "25.0 covers/s", "ETA 30s"}},
		{"nothing done yet", 10, false, 0, 0, 0, time.Second, []string{"0/10 (0.0%)", "0.0 covers/s", "ETA -"}},
		{"finished: no ETA", 4, true, 4, 0, 0, 2 * time.Second, []string{"[========================]", "4/4 (100.0%)", "2.0 covers/s"}},
		{"long ETA", 1_000_000, false, 100, 0, 0, 10 * time.Second, []string{"10.0 covers/s", "ETA 27h46m"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &progress{total: tc.total, tty: tc.tty, now: func() time.Time { return start }}
			p.start = start
			p.samples = []rateSample{{start, 0}}
			p.warmed.Store(tc.warmed)
			p.skipped.Store(tc.skipped)
			p.failed.Store(tc.failed)
			got := p.line(start.Add(tc.after))
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("line() = %q, missing %q", got, w)
				}
			}
			if tc.warmed+tc.skipped+tc.failed == tc.total && strings.Contains(got, "ETA") {
				t.Errorf("line() = %q: a finished run has no ETA", got)
			}
		})
	}
}

// TestProgressRateWindow: the live rate follows the last rateWindow, so a
// fast resumed start does not inflate the ETA of the slow rest.
func TestProgressRateWindow(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_700_000_000, 0)
	p := &progress{total: 10_000, start: start, samples: []rateSample{{start, 0}}}
	// 5000 skipped rows in the first 5 s, then 10 rows/s for 30 s.
	p.rate(start.Add(5*time.Second), 5000)
	var got float64
	for s := 1; s <= 30; s++ {
		got = p.rate(start.Add(5*time.Second+time.Duration(s)*time.Second), 5000+int64(10*s))
	}
	if got < 9.9 || got > 10.1 {
		t.Errorf("rate after 30 s at 10 rows/s = %.2f, want 10 (the fast start is outside the window)", got)
	}
	if n := len(p.samples); n > int(rateWindow/time.Second)+2 {
		t.Errorf("%d rate samples kept, want at most %d", n, int(rateWindow/time.Second)+2)
	}
}
