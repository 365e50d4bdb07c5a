package backfill

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestProgressLine: what one report writes, as a plain line (not a
// terminal) or as the terminal's redrawn line, whose percentage and bar
// progressbar draws.
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
			[]string{"backfill: 500/1000 (50.0%)", "100.0 covers/s", "ETA 5s", "warmed 400", "skipped 90", "failed 10"}},
		{"terminal bar", 1000, true, 250, 0, 0, 10 * time.Second,
			[]string{" 25% [=====>                  ] ", "250/1000", "25.0 covers/s", "ETA 30s", "warmed 250  skipped 0  failed 0"}},
		{"nothing done yet", 10, false, 0, 0, 0, time.Second, []string{"backfill: 0/10 (0.0%)", "0.0 covers/s", "ETA -"}},
		{"finished: no ETA", 4, true, 4, 0, 0, 2 * time.Second, []string{"100% [========================] ", "4/4", "2.0 covers/s"}},
		{"long ETA", 1_000_000, false, 100, 0, 0, 10 * time.Second, []string{"10.0 covers/s", "ETA 27h46m"}},
		{"terminal, total unknown", 0, true, 3, 0, 0, time.Second, []string{" 3  3.0 covers/s  warmed 3  skipped 0  failed 0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			p := &progress{total: tc.total, w: &out, now: func() time.Time { return start }}
			if tc.tty {
				p.bar = newBar(&out, tc.total)
			}
			p.start = start
			p.samples = []rateSample{{start, 0}}
			p.warmed.Store(tc.warmed)
			p.skipped.Store(tc.skipped)
			p.failed.Store(tc.failed)
			p.report(start.Add(tc.after))
			got := out.String()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("report() wrote %q, missing %q", got, w)
				}
			}
			if tc.warmed+tc.skipped+tc.failed == tc.total && strings.Contains(got, "ETA") {
				t.Errorf("report() wrote %q: a finished run has no ETA", got)
			}
			// A plain line is one line; a terminal's is redrawn in place.
			if tc.tty && (!strings.HasPrefix(got, "\r") || !strings.HasSuffix(got, "\x1b[0K") || strings.Contains(got, "\n")) {
				t.Errorf("report() on a terminal wrote %q, want \\r, the line and erase-to-end, no newline", got)
			}
			if !tc.tty && (!strings.HasPrefix(got, "backfill: ") || strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n")) {
				t.Errorf("report() wrote %q, want one line starting backfill: ", got)
			}
		})
	}
}

// TestProgressReports: begin and end write a report every interval and a
// last one; on a terminal the last line is kept with a newline.
func TestProgressReports(t *testing.T) {
	t.Parallel()
	for _, tty := range []bool{false, true} {
		out, read := stderrFile(t)
		p := &progress{total: 3, w: out, interval: 5 * time.Millisecond, now: time.Now}
		if tty {
			p.bar = newBar(out, p.total)
		}
		p.begin()
		p.warmed.Add(1)
		time.Sleep(40 * time.Millisecond)
		p.skipped.Add(1)
		p.failed.Add(1)
		p.end()
		got := read()
		last := got[strings.LastIndexAny(strings.TrimSuffix(got, "\n"), "\r\n")+1:]
		if !strings.Contains(last, "3/3") || !strings.Contains(last, "warmed 1  skipped 1  failed 1") || !strings.HasSuffix(got, "\n") {
			t.Errorf("tty %v: last report %q (of %q), want 3/3 with every outcome, ending the output with a newline", tty, last, got)
		}
		if tty && (strings.Count(got, "\n") != 1 || !strings.Contains(last, "100% [========================]")) {
			t.Errorf("tty %v: wrote %q, want one redrawn line ending full, one newline", tty, got)
		}
		if !tty && (strings.Count(got, "backfill: ") < 3 || strings.Count(got, "backfill: ") != strings.Count(got, "\n") || !strings.Contains(got, "backfill: 1/3 (33.3%)")) {
			t.Errorf("tty %v: wrote %q, want a plain line every 5ms (1/3 among them) and the last one", tty, got)
		}
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
