package main

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// row is one line of the results table.
type row struct {
	Scenario string        `json:"scenario"`
	Kind     string        `json:"kind"` // render, hit, herd, catalog, overload, overload-hit, rss
	Side     string        `json:"side"` // "service" or the baseline's name
	Rate     float64       `json:"rate"` // req/s (successes for the service)
	P50      time.Duration `json:"p50_ns"`
	P99      time.Duration `json:"p99_ns"`
	Ratio    float64       `json:"ratio,omitempty"`     // service / baseline
	CPURatio float64       `json:"cpu_ratio,omitempty"` // baseline CPU per request / service CPU per request
	CPUPerOp time.Duration `json:"cpu_per_op_ns,omitempty"`
	Value    float64       `json:"value,omitempty"` // renders (herd), shed share (overload), MB (rss)
	Target   string        `json:"target,omitempty"`
	Pass     bool          `json:"pass"`
	Note     string        `json:"note,omitempty"`
	Baseline bool          `json:"baseline"`
	Status   map[int]int   `json:"status,omitempty"`
}

type herdResult struct {
	Requests int         `json:"requests"`
	Status   map[int]int `json:"status"`
	Errors   int         `json:"errors"`
	Renders  float64     `json:"renders"`
	P50, P99 time.Duration
}

type catalogResult struct {
	Variants, StoredAtStart, Clients int
	ZipfS                            float64
	Requests                         int
	Status                           map[int]int
	Errors                           int
	Rate                             float64
	Memory, Store, Render            float64 // lookups answered by each tier
	ManifestMisses                   float64
	P50, P99                         time.Duration
}

type overloadResult struct {
	Offered, Capacity           float64
	Requests                    int
	Status                      map[int]int
	ClientErrors                int
	Shed, ShedWithoutRetryAfter int
	ShedP99, ShedMax            time.Duration
	OKP50, OKP99                time.Duration
	OKRate                      float64
	HitIdle, HitDuring          float64
	HitConns                    int
	PeakRSSMB                   float64
	SendLagP99                  time.Duration // how late the open-loop client sent (its own lag)
}

// results is everything one run measured.
type results struct {
	Started  time.Time       `json:"started"`
	Machine  string          `json:"machine"`
	LoadAvg  [2]string       `json:"loadavg"` // at start, at end
	Settings string          `json:"settings"`
	Rows     []row           `json:"rows"`
	Herd     *herdResult     `json:"herd,omitempty"`
	Catalog  *catalogResult  `json:"catalog,omitempty"`
	Overload *overloadResult `json:"overload,omitempty"`
	GoBench  []goBench       `json:"gobench,omitempty"`
	Failures []string        `json:"failures,omitempty"`
}

func (r *results) addRow(x row) { r.Rows = append(r.Rows, x) }

// addPair adds a baseline row and the service row judged against it.
func (r *results) addPair(scenario, kind, baseline string, base, svc *run, target, ratio float64) {
	perOp := func(cpu float64, n int) time.Duration {
		if cpu <= 0 || n == 0 {
			return 0
		}
		return time.Duration(cpu / float64(n) * float64(time.Second))
	}
	baseCPU, svcCPU := perOp(base.CPU, base.Requests), perOp(svc.CPU, svc.Status[200])
	var cpuRatio float64
	if baseCPU > 0 && svcCPU > 0 {
		cpuRatio = float64(baseCPU) / float64(svcCPU)
	}
	r.addRow(row{Scenario: scenario, Kind: kind, Side: baseline, Baseline: true, Rate: base.rate(),
		P50: pct(base.Lat, 50), P99: pct(base.Lat, 99), Status: base.Status, CPUPerOp: baseCPU})
	r.addRow(row{Scenario: scenario, Kind: kind, Side: "service", Rate: svc.okRate(), P50: pct(svc.OKLat, 50), P99: pct(svc.OKLat, 99),
		Ratio: ratio, CPURatio: cpuRatio, CPUPerOp: svcCPU, Target: fmt.Sprintf(">= %.2f", target),
		Pass: ratio >= target && svc.Errors == 0 && svc.Status[200] == svc.Requests, Status: svc.Status, Note: statusNote(svc)})
}

func statusNote(r *run) string {
	if r.Errors == 0 && r.Status[200] == r.Requests {
		return ""
	}
	var parts []string
	codes := make([]int, 0, len(r.Status))
	for c := range r.Status {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d x%d", c, r.Status[c]))
	}
	if r.Errors > 0 {
		parts = append(parts, fmt.Sprintf("%d transport errors", r.Errors))
	}
	return strings.Join(parts, ", ")
}

func ms(d time.Duration) string {
	if d == 0 {
		return ""
	}
	f := float64(d) / float64(time.Millisecond)
	switch {
	case f < 10:
		return fmt.Sprintf("%.2f ms", f)
	case f < 100:
		return fmt.Sprintf("%.1f ms", f)
	}
	return fmt.Sprintf("%.0f ms", f)
}

func us(d time.Duration) string {
	if d >= time.Millisecond {
		return ms(d)
	}
	return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
}

// markdown renders the run as the tables of latest.md and docs/benchmarks.md.
func (r *results) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run %s on %s; load average %s at start, %s at end.\n\n", r.Started.UTC().Format(time.RFC3339), r.Machine, r.LoadAvg[0], r.LoadAvg[1])
	fmt.Fprintf(&b, "Service settings: %s\n\n", r.Settings)
	b.WriteString("| scenario | side | req/s | p50 | p99 | CPU/req | ratio / value | CPU ratio | target | |\n|---|---|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, x := range r.Rows {
		val := ""
		switch {
		case x.Ratio > 0:
			val = fmt.Sprintf("**%.3f**", x.Ratio)
		case x.Kind == "herd":
			val = fmt.Sprintf("**%.0f render(s)**", x.Value)
		case x.Kind == "overload":
			val = fmt.Sprintf("%.0f%% shed", 100*x.Value)
		case x.Kind == "rss":
			val = fmt.Sprintf("**%.0f MB**", x.Value)
		}
		verdict := ""
		if !x.Baseline {
			verdict = "FAIL"
			if x.Pass {
				verdict = "ok"
			}
		}
		rate := ""
		if x.Rate > 0 {
			rate = fmt.Sprintf("%.1f", x.Rate)
			if x.Rate >= 1000 {
				rate = fmt.Sprintf("%.0f", x.Rate)
			}
		}
		side := x.Side
		if x.Note != "" {
			side += " (" + x.Note + ")"
		}
		cpuRatio, cpuPer := "", ""
		if x.CPURatio > 0 {
			cpuRatio = fmt.Sprintf("%.3f", x.CPURatio)
		}
		if x.CPUPerOp > 0 {
			cpuPer = us(x.CPUPerOp)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", x.Scenario, side, rate, ms(x.P50), ms(x.P99), cpuPer, val, cpuRatio, x.Target, verdict)
	}
	if c := r.Catalog; c != nil && c.Requests > 0 {
		n := float64(c.Requests)
		fmt.Fprintf(&b, "\nCatalog: %d variants (%d in the store at start, memory cold), %d clients, %d requests at %.0f req/s; "+
			"answered from memory %.1f%%, object store %.1f%%, render %.1f%%; %.0f manifest loads; statuses %v.\n",
			c.Variants, c.StoredAtStart, c.Clients, c.Requests, c.Rate, 100*c.Memory/n, 100*c.Store/n, 100*c.Render/n, c.ManifestMisses, c.Status)
	}
	if o := r.Overload; o != nil {
		fmt.Fprintf(&b, "\nOverload: %.0f req/s offered (capacity %.1f renders/s), %d answered: %v; %d 503s without Retry-After; "+
			"503 p99 %s, max %s; successes %.1f/s, p50 %s, p99 %s; hits %.0f/s idle vs %.0f/s during (%d connections); peak RSS %.0f MB; "+
			"latencies count from the actual send (the client's own send lag p99 was %s).\n",
			o.Offered, o.Capacity, o.Requests, o.Status, o.ShedWithoutRetryAfter, ms(o.ShedP99), ms(o.ShedMax), o.OKRate, ms(o.OKP50), ms(o.OKP99),
			o.HitIdle, o.HitDuring, o.HitConns, o.PeakRSSMB, ms(o.SendLagP99))
	}
	if h := r.Herd; h != nil {
		fmt.Fprintf(&b, "\nHerd: %d requests, statuses %v, %d transport errors, %.0f render(s), p50 %s, p99 %s.\n",
			h.Requests, h.Status, h.Errors, h.Renders, ms(h.P50), ms(h.P99))
	}
	if len(r.GoBench) > 0 {
		b.WriteString("\nGo benchmarks (`go test -bench`, one run):\n\n| benchmark | ns/op | B/op | allocs/op | other |\n|---|---:|---:|---:|---|\n")
		for _, g := range r.GoBench {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", g.Name, g.NsOp, g.BOp, g.AllocsOp, g.Other)
		}
		if ratio, ok := ladderRatio(r.GoBench); ok {
			verdict := "FAIL"
			if ratio <= ladderTarget {
				verdict = "ok"
			}
			fmt.Fprintf(&b, "\nLadder (transform.Ladder): CPU of one ladder of the default PRERENDER (5 widths × WebP, AVIF) over 10 independent renders = **%.3f** (target ≤ %.1f): %s.\n", ratio, ladderTarget, verdict)
		}
	}
	if len(r.Failures) > 0 {
		b.WriteString("\nScenarios that did not complete:\n\n")
		for _, f := range r.Failures {
			fmt.Fprintf(&b, "- %s\n", f)
		}
	}
	return b.String()
}

// ladderTarget is the CPU ratio a ladder should reach against independent
// renders of the same variants.
const ladderTarget = 0.6

// ladderRatio finds the cpu-ratio that BenchmarkLadder/ladder reports.
func ladderRatio(gs []goBench) (float64, bool) {
	for _, g := range gs {
		if g.Name != "transform.Ladder/ladder" {
			continue
		}
		for _, m := range strings.Split(g.Other, ", ") {
			if v, ok := strings.CutSuffix(m, " cpu-ratio"); ok {
				f, err := strconv.ParseFloat(v, 64)
				return f, err == nil
			}
		}
	}
	return 0, false
}

// goBench is one line of `go test -bench` output.
type goBench struct {
	Name, NsOp, BOp, AllocsOp, Other string
}

// parseGoBench reads benchmark lines ("BenchmarkX-2  N  12 ns/op  3 B/op ...").
func parseGoBench(path string) ([]goBench, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []goBench
	pkg := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "pkg:" {
			pkg = fields[1][strings.LastIndexByte(fields[1], '/')+1:]
			continue
		}
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		g := goBench{Name: pkg + "." + strings.TrimPrefix(fields[0], "Benchmark")}
		if i := strings.LastIndexByte(g.Name, '-'); i > 0 {
			g.Name = g.Name[:i]
		}
		var other []string
		for i := 2; i+1 < len(fields); i += 2 {
			v, unit := fields[i], fields[i+1]
			switch unit {
			case "ns/op":
				g.NsOp = v
			case "B/op":
				g.BOp = v
			case "allocs/op":
				g.AllocsOp = v
			default:
				other = append(other, v+" "+unit)
			}
		}
		g.Other = strings.Join(other, ", ")
		out = append(out, g)
	}
	return out, sc.Err()
}
