package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bookcovers/image-worker/cover"
)

// Widths of the render scenarios: 241 values around 320 in a fixed shuffled
// order, the same for the service and the floor.
const minRenderWidth, maxRenderWidth = 200, 440

func renderWidths() []int {
	ws := make([]int, 0, maxRenderWidth-minRenderWidth+1)
	for w := minRenderWidth; w <= maxRenderWidth; w++ {
		ws = append(ws, w)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(ws), func(i, j int) { ws[i], ws[j] = ws[j], ws[i] })
	return ws
}

// keySpace hands out never-requested variants: book prefix+k, width from
// the shuffled list, k advancing each time the list is used up.
type keySpace struct {
	prefix string
	books  int
	widths []int
	next   atomic.Int64
}

func (k *keySpace) path(i int64, format cover.Format) (string, error) {
	book := int(i) / len(k.widths)
	if book >= k.books {
		return "", fmt.Errorf("key space %s exhausted after %d variants: import more books", k.prefix, i)
	}
	return fmt.Sprintf("/covers/%s%d/%d.%s", k.prefix, book, k.widths[int(i)%len(k.widths)], format), nil
}

// renderScenario: scenario 1.
func (b *bench) renderScenario(ctx context.Context) error {
	self := os.Getpid()
	widths := renderWidths()
	widthAt := func(i int64) int { return widths[int(i)%len(widths)] }
	for _, format := range []cover.Format{cover.WebP, cover.AVIF} {
		ks := &keySpace{prefix: "R", books: b.renderBooks, widths: widths}
		for _, clients := range []int{1, 2} {
			name := fmt.Sprintf("render %s ~320px, %d client(s)", format, clients)
			floorRun, svcRun := newRun(), newRun()
			var keyErr error
			var mu sync.Mutex
			next := func(_ int64) []byte {
				p, err := ks.path(ks.next.Add(1)-1, format)
				if err != nil {
					mu.Lock()
					keyErr = err
					mu.Unlock()
					p = "/covers/R0/96.webp" // a hit; the segment is reported as failed
				}
				return b.signedRequest(b.svc.public, p)
			}
			for round := range b.opts.rounds {
				segs := []func(){
					func() {
						floorRun.merge(measured([]int{self}, func() *run {
							return b.floor.run(ctx, clients, b.opts.renderSeg, format, widthAt)
						}))
					},
					func() {
						svcRun.merge(measured([]int{self, b.svc.pid(), b.minioPID}, func() *run {
							return closedLoop(ctx, b.svc.public, clients, b.opts.renderSeg, next)
						}))
					},
				}
				if round%2 == 1 {
					segs[0], segs[1] = segs[1], segs[0]
				}
				for _, s := range segs {
					s()
				}
			}
			if b.opts.profileDir != "" {
				wait := b.svc.profile(filepath.Join(b.opts.profileDir, fmt.Sprintf("render-%s-%dc.pprof", format, clients)), b.opts.renderSeg-time.Second)
				closedLoop(ctx, b.svc.public, clients, b.opts.renderSeg, next)
				if err := wait(); err != nil {
					return err
				}
			}
			if keyErr != nil {
				return keyErr
			}
			n := float64(max(1, svcRun.Status[200]))
			b.logf("%s: floor %.1f/s, service %.1f/s (%v); CPU per render: floor %.1f ms; service %.1f ms + MinIO %.1f ms + client %.1f ms",
				name, floorRun.rate(), svcRun.okRate(), svcRun.Status, 1000*floorRun.CPU/float64(max(1, floorRun.Requests)),
				1000*svcRun.CPUByPID[b.svc.pid()]/n, 1000*svcRun.CPUByPID[b.minioPID]/n, 1000*svcRun.CPUByPID[self]/n)
			b.res.addPair(name, "render", "libvips alone (floor)", floorRun, svcRun, 0.95, svcRun.okRate()/floorRun.rate())
			if svcCPU := svcRun.CPUByPID[b.svc.pid()] / n; svcCPU > 0 && floorRun.Requests > 0 {
				last := &b.res.Rows[len(b.res.Rows)-1]
				note := fmt.Sprintf("CPU/render: service and its render workers %.1f ms (%.3f of the floor's), MinIO %.1f ms",
					1000*svcCPU, floorRun.CPU/float64(floorRun.Requests)/svcCPU, 1000*svcRun.CPUByPID[b.minioPID]/n)
				if last.Note != "" {
					note = last.Note + "; " + note
				}
				last.Note = note
			}
			if format == cover.WebP && clients == 2 {
				b.renderCapacity = svcRun.okRate()
			}
		}
	}
	return nil
}

// hitScenario: scenario 2.
func (b *bench) hitScenario(ctx context.Context) error {
	path := "/covers/H0/320.webp"
	url := "http://" + b.svc.public + b.signedPath(path)
	var resp *http.Response
	var body []byte
	for range 2 {
		var err error
		if resp, body, err = fetch(url); err != nil || resp.StatusCode != 200 {
			return fmt.Errorf("warm hit %s: %v %v", path, err, resp)
		}
	}
	bare, err := startBare(b.dir, bareSpec{Header: resp.Header.Clone(), Body: body, Pprof: b.opts.profileDir != ""})
	if err != nil {
		return err
	}
	defer bare.stop()
	svcReq := b.signedRequest(b.svc.public, path)
	bareReq := b.signedRequest(bare.addr, path)
	bareRun, svcRun := newRun(), newRun()
	conns := b.opts.hitConns
	self := os.Getpid()
	warm := min(b.opts.hitSeg/4, time.Second)
	closedLoop(ctx, bare.addr, conns, warm, func(int64) []byte { return bareReq })
	closedLoop(ctx, b.svc.public, conns, warm, func(int64) []byte { return svcReq })
	for round := range b.opts.hitRounds {
		segs := []func(){
			func() {
				bareRun.merge(measured([]int{self, bare.pid()}, func() *run {
					return closedLoop(ctx, bare.addr, conns, b.opts.hitSeg, func(int64) []byte { return bareReq })
				}))
			},
			func() {
				svcRun.merge(measured([]int{self, b.svc.pid()}, func() *run {
					return closedLoop(ctx, b.svc.public, conns, b.opts.hitSeg, func(int64) []byte { return svcReq })
				}))
			},
		}
		if round%2 == 1 {
			segs[0], segs[1] = segs[1], segs[0]
		}
		for _, s := range segs {
			s()
		}
	}
	if b.opts.profileDir != "" {
		pd := max(b.opts.hitProfileDur.Truncate(time.Second), time.Second)
		wait := b.svc.profile(filepath.Join(b.opts.profileDir, "hit.pprof"), pd)
		closedLoop(ctx, b.svc.public, conns, pd+time.Second, func(int64) []byte { return svcReq })
		if err := wait(); err != nil {
			return err
		}
		for _, p := range []string{"heap", "mutex", "block"} {
			if err := profileURL("http://"+b.svc.internal+"/debug/pprof/"+p, filepath.Join(b.opts.profileDir, "hit-"+p+".pprof"))(); err != nil {
				return err
			}
		}
		wait = profileURL(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", bare.addr, int(pd.Seconds())),
			filepath.Join(b.opts.profileDir, "hit-bare.pprof"))
		closedLoop(ctx, bare.addr, conns, pd+time.Second, func(int64) []byte { return bareReq })
		if err := wait(); err != nil {
			return err
		}
	}
	name := fmt.Sprintf("hit %d B webp, %d connections", len(body), conns)
	b.logf("%s: bare %.0f/s, service %.0f/s (%v)", name, bareRun.rate(), svcRun.okRate(), svcRun.Status)
	b.res.addPair(name, "hit", "bare net/http handler", bareRun, svcRun, 0.90, svcRun.okRate()/bareRun.rate())
	return nil
}

// herdScenario: scenario 3.
func (b *bench) herdScenario(ctx context.Context) error {
	if _, _, err := fetch("http://" + b.svc.public + b.signedPath("/covers/HERD/96.webp")); err != nil {
		return err // loads the manifest, so the herd measures the render only
	}
	m0, err := b.svc.metrics()
	if err != nil {
		return err
	}
	n := b.opts.herd
	req := b.signedRequest(b.svc.public, "/covers/HERD/320.webp")
	conns := make([]*conn, n)
	for i := range conns {
		conns[i] = newConn(b.svc.public)
		if err := conns[i].dial(); err != nil {
			return err
		}
		defer conns[i].close()
	}
	out := newRun()
	var mu sync.Mutex
	var wg sync.WaitGroup
	gate := make(chan struct{})
	start := time.Now()
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			t0 := time.Now()
			resp, err := c.do(req)
			d := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				out.Errors++
				return
			}
			out.record(resp, d)
		}()
	}
	close(gate)
	wg.Wait()
	out.Elapsed = time.Since(start)
	m1, err := b.svc.metrics()
	if err != nil {
		return err
	}
	got := renders(m1) - renders(m0)
	b.logf("herd: %d requests, %v, %.0f render(s), p99 %v", n, out.Status, got, pct(out.Lat, 99))
	b.res.Herd = &herdResult{Requests: n, Status: out.Status, Errors: out.Errors, Renders: got,
		P50: pct(out.Lat, 50), P99: pct(out.Lat, 99)}
	b.res.addRow(row{Scenario: fmt.Sprintf("herd: %d concurrent requests, one new variant", n), Kind: "herd", Side: "service",
		Rate: out.rate(), P50: pct(out.Lat, 50), P99: pct(out.Lat, 99), Value: got, Target: "= 1 render", Pass: got == 1 && out.Status[200] == n})
	return nil
}

// prerender asks the service for each path with `clients` workers.
func (b *bench) prerender(ctx context.Context, paths []string, clients int) (failed int) {
	var i atomic.Int64
	var bad atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newConn(b.svc.public)
			defer c.close()
			for ctx.Err() == nil {
				k := int(i.Add(1) - 1)
				if k >= len(paths) {
					return
				}
				resp, err := c.do(b.signedRequest(b.svc.public, paths[k]))
				if err != nil || resp.status != 200 {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return int(bad.Load())
}

// catalogPaths is the catalog: books C0.. with three sizes in two formats.
func (b *bench) catalogPaths() []string {
	var out []string
	for book := 0; len(out) < b.opts.catalogVariants; book++ {
		for _, size := range []string{"thumb", "small", "medium"} {
			for _, f := range []string{"webp", "avif"} {
				if len(out) < b.opts.catalogVariants {
					out = append(out, fmt.Sprintf("/covers/C%d/%s.%s", book, size, f))
				}
			}
		}
	}
	return out
}

// catalogScenario: scenario 4.
func (b *bench) catalogScenario(ctx context.Context) error {
	paths := b.catalogPaths()
	rng := rand.New(rand.NewPCG(3, 4))
	order := rng.Perm(len(paths)) // rank -> variant: the hot covers are spread over books
	var stored []string
	for _, i := range rng.Perm(len(paths))[:len(paths)*b.opts.catalogStoredPct/100] {
		stored = append(stored, paths[i])
	}
	t0 := time.Now()
	if bad := b.prerender(ctx, stored, 2); bad > 0 {
		return fmt.Errorf("catalog: %d of %d variants failed to pre-render", bad, len(stored))
	}
	b.logf("catalog: %d of %d variants rendered into the store in %v; restarting the service (cold memory)", len(stored), len(paths), time.Since(t0).Round(time.Second))
	if err := b.restart(ctx); err != nil {
		return err
	}
	reqs := make([][]byte, len(paths))
	for i, p := range paths {
		reqs[i] = b.signedRequest(b.svc.public, p)
	}
	zipf := rand.NewZipf(rand.New(rand.NewPCG(5, 6)), b.opts.zipfS, 1, uint64(len(paths)-1))
	seq := make([]uint16, 4<<20)
	for i := range seq {
		seq[i] = uint16(order[zipf.Uint64()])
	}
	m0, err := b.svc.metrics()
	if err != nil {
		return err
	}
	out := closedLoop(ctx, b.svc.public, b.opts.catalogClients, b.opts.catalogDur,
		func(i int64) []byte { return reqs[seq[int(i)%len(seq)]] })
	m1, err := b.svc.metrics()
	if err != nil {
		return err
	}
	d := func(k string) float64 { return m1[k] - m0[k] }
	c := &catalogResult{Variants: len(paths), StoredAtStart: len(stored), Clients: b.opts.catalogClients, ZipfS: b.opts.zipfS,
		Requests: out.Requests, Status: out.Status, Errors: out.Errors, Rate: out.rate(),
		Memory:         d(`covers_cache_lookups_total{layer="memory",result="hit"}`),
		Store:          d(`covers_cache_lookups_total{layer="store",result="hit"}`),
		Render:         d(`covers_cache_lookups_total{layer="render",result="hit"}`),
		ManifestMisses: d(`covers_cache_manifest_lookups_total{result="miss"}`),
		P50:            pct(out.Lat, 50), P99: pct(out.Lat, 99)}
	b.res.Catalog = c
	b.logf("catalog: %.0f req/s, memory %.0f, store %.0f, render %.0f, %v", c.Rate, c.Memory, c.Store, c.Render, out.Status)
	n := float64(max(1, out.Requests))
	b.res.addRow(row{Scenario: fmt.Sprintf("catalog: Zipf(s=%.2f) over %d variants, %d clients", c.ZipfS, c.Variants, c.Clients), Kind: "catalog",
		Side: "service", Rate: out.rate(), P50: c.P50, P99: c.P99, Pass: out.Errors == 0 && out.Status[200]+out.Status[503] == out.Requests,
		Target: "200, or 503 when the render queue is full",
		Note:   fmt.Sprintf("memory %.1f%%, store %.1f%%, render %.1f%%, 503 %.1f%%", 100*c.Memory/n, 100*c.Store/n, 100*c.Render/n, 100*float64(out.Status[503])/n)})
	return nil
}

// overloadScenario: scenario 5, on a fresh process so its peak RSS is this scenario's.
func (b *bench) overloadScenario(ctx context.Context) error {
	if err := b.restart(ctx); err != nil {
		return err
	}
	var warm []string
	for i := range b.overloadBooks {
		warm = append(warm, fmt.Sprintf("/covers/O%d/96.webp", i))
	}
	warm = append(warm, "/covers/H0/320.webp")
	if bad := b.prerender(ctx, warm, 2); bad > 0 {
		return fmt.Errorf("overload: warm-up: %d failed", bad)
	}
	hitReq := b.signedRequest(b.svc.public, "/covers/H0/320.webp")
	hit := func(d time.Duration) *run {
		return closedLoop(ctx, b.svc.public, b.opts.overloadHitConns, d, func(int64) []byte { return hitReq })
	}
	capacity := b.renderCapacity
	if capacity <= 0 {
		capacity = b.opts.renderCapacity
	}
	offered := b.opts.overloadFactor * capacity
	ks := &keySpace{prefix: "O", books: b.overloadBooks, widths: renderWidths()}
	var keyErr atomic.Value
	next := func(_ int64) []byte {
		p, err := ks.path(ks.next.Add(1)-1, cover.WebP)
		if err != nil {
			keyErr.Store(err)
			p = "/covers/O0/96.webp"
		}
		return b.signedRequest(b.svc.public, p)
	}
	idleA := hit(b.opts.idleDur)
	var over, during *run
	var wg sync.WaitGroup
	if b.opts.profileDir != "" {
		wait := b.svc.profile(filepath.Join(b.opts.profileDir, "overload.pprof"), b.opts.overloadDur-2*time.Second)
		defer func() { _ = wait() }()
	}
	wg.Add(2)
	go func() { defer wg.Done(); over = openLoop(ctx, b.svc.public, offered, b.opts.overloadDur, 2048, next) }()
	go func() { defer wg.Done(); during = hit(b.opts.overloadDur) }()
	wg.Wait()
	peak, _, err := b.svc.rssMB()
	if err != nil {
		return err
	}
	idleB := hit(b.opts.idleDur)
	if err, _ := keyErr.Load().(error); err != nil {
		return err
	}
	idle := newRun()
	idle.merge(idleA)
	idle.merge(idleB)
	o := &overloadResult{Offered: offered, Capacity: capacity, Requests: over.Requests, Status: over.Status, ClientErrors: over.Errors,
		Shed: over.Status[503], ShedWithoutRetryAfter: over.NoRetryHdr, ShedP99: pct(over.ShedLat, 99), ShedMax: pct(over.ShedLat, 100),
		OKP50: pct(over.OKLat, 50), OKP99: pct(over.OKLat, 99), OKRate: over.okRate(),
		HitIdle: idle.okRate(), HitDuring: during.okRate(), HitConns: b.opts.overloadHitConns, PeakRSSMB: peak}
	b.res.Overload = o
	o.SendLagP99 = pct(over.Lag, 99)
	b.logf("overload: offered %.0f/s: %v, shed p99 %v max %v, ok p99 %v; hits %.0f/s idle, %.0f/s during; peak RSS %.0f MB; client send lag p99 %v",
		offered, over.Status, o.ShedP99, o.ShedMax, o.OKP99, o.HitIdle, o.HitDuring, peak, o.SendLagP99)
	shedShare := float64(o.Shed) / float64(max(1, o.Requests))
	b.res.addRow(row{Scenario: fmt.Sprintf("overload: %.0f new variants/s offered (%.0fx capacity)", offered, b.opts.overloadFactor), Kind: "overload",
		Side: "service", Rate: o.OKRate, P50: o.OKP50, P99: o.OKP99, Value: shedShare, Target: "200 or 503 with Retry-After",
		Pass: o.ShedWithoutRetryAfter == 0 && over.Errors == 0 && o.Shed+over.Status[200] == o.Requests,
		Note: fmt.Sprintf("%.0f%% answered 503 (p99 %v, max %v); successes p99 %v", 100*shedShare, o.ShedP99.Round(time.Millisecond/10), o.ShedMax.Round(time.Millisecond/10), o.OKP99.Round(time.Millisecond))})
	b.res.addRow(row{Scenario: "overload: the 503 answers", Kind: "overload-503", Side: "service", Rate: float64(o.Shed) / over.Elapsed.Seconds(),
		P50: pct(over.ShedLat, 50), P99: o.ShedP99, Target: "p99 < 50 ms", Pass: o.ShedP99 < 50*time.Millisecond,
		Note: fmt.Sprintf("p90 %s", ms(pct(over.ShedLat, 90)))})
	b.res.addPair(fmt.Sprintf("hits during overload, %d connections", b.opts.overloadHitConns), "overload-hit", "same hit client, no overload (before and after)",
		idle, during, 0.85, o.HitDuring/o.HitIdle)
	b.res.addRow(row{Scenario: "peak RSS under overload (VmHWM, serving process + render workers)", Kind: "rss", Side: "service", Value: peak, Target: "<= 600 MB", Pass: peak <= 600,
		Note: fmt.Sprintf("%.0f MB", peak)})
	return nil
}
