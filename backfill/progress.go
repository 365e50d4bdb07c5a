package backfill

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/bookcovers/image-worker/ingest"
)

const (
	// rateWindow is how far back the live rate (and so the ETA) looks.
	rateWindow = 10 * time.Second
	// ttyInterval is how often a terminal's line is redrawn.
	ttyInterval = 250 * time.Millisecond
	// barWidth is the bar's width in cells; narrower when the terminal is.
	barWidth = 24
)

// progress counts row outcomes and reports them: on a terminal, a single
// line redrawn four times a second (percentage and bar drawn by
// progressbar, then done/total, rate, ETA, outcomes); otherwise a plain line
// every interval. Counters are safe for concurrent use.
type progress struct {
	total                   int64 // rows in the file; 0 when unknown
	warmed, skipped, failed atomic.Int64
	// refused counts rows whose original was refused as a placeholder,
	// byReason the same by reason.
	refused  atomic.Int64
	reasonMu sync.Mutex
	byReason map[string]int64

	w        io.Writer
	bar      *progressbar.ProgressBar // nil: plain lines (not a terminal)
	interval time.Duration
	now      func() time.Time
	start    time.Time

	mu      sync.Mutex
	samples []rateSample // (time, processed) within rateWindow, oldest first
	stop    chan struct{}
	done    chan struct{}
}

type rateSample struct {
	at time.Time
	n  int64
}

func newProgress(w io.Writer, total int64, interval time.Duration) *progress {
	p := &progress{total: total, w: w, interval: interval, now: time.Now}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar, p.interval = newBar(w, total), ttyInterval
	}
	return p
}

// newBar draws the terminal's line: the percentage and the [=====>    ]
// bar, then the description our counts are written to. The library's own
// count, rate and time prediction are off: the line shows ours, whose rate
// looks back rateWindow. An unknown total (0) is a spinner.
func newBar(w io.Writer, total int64) *progressbar.ProgressBar {
	limit := total
	if limit <= 0 {
		limit = -1
	}
	return progressbar.NewOptions64(limit,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(barWidth),
		progressbar.OptionSetTheme(progressbar.Theme{Saucer: "=", SaucerHead: ">", SaucerPadding: " ", BarStart: "[", BarEnd: "]"}),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionUseANSICodes(true),          // "\r", the line, erase to its end
		progressbar.OptionSetSpinnerChangeInterval(0), // no redraws but ours
	)
}

// tty reports whether the progress is a terminal's redrawn line.
func (p *progress) tty() bool { return p.bar != nil }

// processed is the number of rows with an outcome.
func (p *progress) processed() int64 {
	return p.warmed.Load() + p.skipped.Load() + p.failed.Load() + p.refused.Load()
}

// refuse counts a row refused as a placeholder for reason.
func (p *progress) refuse(reason string) {
	p.reasonMu.Lock()
	if p.byReason == nil {
		p.byReason = map[string]int64{}
	}
	p.byReason[reason]++
	p.reasonMu.Unlock()
	p.refused.Add(1)
}

// refusedByReason is "tiny 1, known 1, uniform 1": the reasons in the order
// the rules are tried, then any other (a newer service's) by name.
func (p *progress) refusedByReason() string {
	p.reasonMu.Lock()
	defer p.reasonMu.Unlock()
	order := make([]string, 0, len(p.byReason))
	for _, r := range ingest.PlaceholderReasons() {
		order = append(order, string(r))
	}
	var other []string
	for r := range p.byReason {
		if !slices.Contains(order, r) {
			other = append(other, r)
		}
	}
	slices.Sort(other)
	var parts []string
	for _, r := range append(order, other...) {
		if n := p.byReason[r]; n > 0 {
			if r == "" {
				r = "unknown"
			}
			parts = append(parts, fmt.Sprintf("%s %d", r, n))
		}
	}
	return strings.Join(parts, ", ")
}

// begin starts the clock and the periodic reports.
func (p *progress) begin() {
	p.start = p.now()
	p.samples = []rateSample{{p.start, 0}}
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTicker(p.interval)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.report(p.now())
			}
		}
	}()
}

// end stops the periodic reports and writes the last one.
func (p *progress) end() {
	close(p.stop)
	<-p.done
	p.report(p.now())
	if p.tty() {
		fmt.Fprintln(p.w)
	}
}

// report writes the state at now: a plain line, or the terminal's line
// redrawn.
func (p *progress) report(now time.Time) {
	n := p.processed()
	line := p.line(now, n)
	if p.bar == nil {
		fmt.Fprintln(p.w, "backfill: "+line)
		return
	}
	// The description first: Set64 redraws only when the percentage
	// changes, and not at all once the bar is full.
	p.bar.Describe(line)
	_ = p.bar.Set64(min(n, p.total))
}

// line formats n rows done at now and records a rate sample. A terminal's
// bar shows the percentage itself.
func (p *progress) line(now time.Time, n int64) string {
	rate := p.rate(now, n)
	var b strings.Builder
	switch {
	case p.total > 0 && p.tty():
		fmt.Fprintf(&b, "%d/%d", n, p.total)
	case p.total > 0:
		fmt.Fprintf(&b, "%d/%d (%.1f%%)", n, p.total, 100*float64(n)/float64(p.total))
	default:
		fmt.Fprintf(&b, "%d", n)
	}
	fmt.Fprintf(&b, "  %.1f covers/s", rate)
	if p.total > 0 && n < p.total {
		if rate > 0 {
			fmt.Fprintf(&b, "  ETA %s", formatETA(time.Duration(float64(p.total-n)/rate*float64(time.Second))))
		} else {
			b.WriteString("  ETA -")
		}
	}
	fmt.Fprintf(&b, "  warmed %d  skipped %d  failed %d", p.warmed.Load(), p.skipped.Load(), p.failed.Load())
	if n := p.refused.Load(); n > 0 {
		fmt.Fprintf(&b, "  refused %d", n)
	}
	return b.String()
}

// rate is the rows per second over the last rateWindow (since the start
// when the run is younger than that).
func (p *progress) rate(now time.Time, n int64) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.samples = append(p.samples, rateSample{now, n})
	for len(p.samples) > 2 && now.Sub(p.samples[1].at) >= rateWindow {
		p.samples = p.samples[1:]
	}
	first := p.samples[0]
	secs := now.Sub(first.at).Seconds()
	if secs <= 0 {
		return 0
	}
	return float64(n-first.n) / secs
}

// formatETA prints 45s, 12m05s or 3h07m.
func formatETA(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}
