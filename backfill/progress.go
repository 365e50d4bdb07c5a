package backfill

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-isatty"
)

// rateWindow is how far back the live rate (and so the ETA) looks.
const rateWindow = 10 * time.Second

// progress counts row outcomes and reports them: on a terminal, a single
// line redrawn a few times a second (bar, done/total, rate, ETA, failures);
// otherwise a plain line every interval. Counters are safe for concurrent use.
type progress struct {
	total                   int64 // rows in the file; 0 when unknown
	warmed, skipped, failed atomic.Int64

	w        io.Writer
	tty      bool
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

// isTerminal reports whether w is a terminal (progress bar) or not (plain lines).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

func newProgress(w io.Writer, total int64, interval time.Duration) *progress {
	p := &progress{total: total, w: w, tty: isTerminal(w), interval: interval, now: time.Now}
	if p.tty {
		p.interval = 250 * time.Millisecond
	}
	return p
}

// processed is the number of rows with an outcome.
func (p *progress) processed() int64 {
	return p.warmed.Load() + p.skipped.Load() + p.failed.Load()
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
				p.report()
			}
		}
	}()
}

// end stops the periodic reports and writes the last one.
func (p *progress) end() {
	close(p.stop)
	<-p.done
	p.report()
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

func (p *progress) report() {
	line := p.line(p.now())
	if p.tty {
		fmt.Fprint(p.w, "\r"+line+"\x1b[K")
		return
	}
	fmt.Fprintln(p.w, "backfill: "+line)
}

// line formats the current state and records a rate sample at now.
func (p *progress) line(now time.Time) string {
	n := p.processed()
	rate := p.rate(now, n)
	var b strings.Builder
	if p.tty && p.total > 0 {
		b.WriteString(progressBar(n, p.total, 24) + " ")
	}
	if p.total > 0 {
		fmt.Fprintf(&b, "%d/%d (%.1f%%)", n, p.total, 100*float64(n)/float64(p.total))
	} else {
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

// progressBar draws [=====>    ] for n of total in width cells.
func progressBar(n, total int64, width int) string {
	filled := int(min(n, total) * int64(width) / total)
	var b strings.Builder
	b.WriteByte('[')
	b.WriteString(strings.Repeat("=", filled))
	if filled < width {
		b.WriteByte('>')
		b.WriteString(strings.Repeat(" ", width-filled-1))
	}
	b.WriteByte(']')
	return b.String()
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
