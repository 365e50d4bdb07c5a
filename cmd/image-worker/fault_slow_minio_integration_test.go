package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/internal/loadloop"
	"github.com/bookcovers/image-worker/internal/testenv"
)

// slowProxy is a TCP proxy on loopback in front of a server. While slow is
// set, every chunk it forwards, either way, waits delay first; a waiting
// chunk gives up as soon as either side closes.
type slowProxy struct {
	ln     net.Listener
	target string
	delay  time.Duration
	slow   atomic.Bool
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
}

func startSlowProxy(t *testing.T, target string, delay time.Duration) *slowProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &slowProxy{ln: ln, target: target, delay: delay, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *slowProxy) addr() string { return p.ln.Addr().String() }

func (p *slowProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.track(c, up)
		done := make(chan struct{})
		var once sync.Once
		stop := func() { once.Do(func() { close(done); c.Close(); up.Close(); p.untrack(c, up) }) }
		p.wg.Add(2)
		go p.pipe(up, c, done, stop)
		go p.pipe(c, up, done, stop)
	}
}

func (p *slowProxy) pipe(dst, src net.Conn, done chan struct{}, stop func()) {
	defer p.wg.Done()
	defer stop()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if p.slow.Load() {
				select {
				case <-time.After(p.delay):
				case <-done:
					return
				}
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *slowProxy) track(cs ...net.Conn) {
	p.mu.Lock()
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	p.mu.Unlock()
}

func (p *slowProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	for _, c := range cs {
		delete(p.conns, c)
	}
	p.mu.Unlock()
}

func (p *slowProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestSlowMinIOIsBoundedByDeadlines puts a proxy that delays every chunk by
// 5s between the service and MinIO, with a 1s store timeout: uncached
// variant requests end by their deadline with 504/503 instead of hanging,
// /ready answers 200 "degraded" within its 2s budget (the replica serves)
// while /health stays 200, cached
// variants keep being served, no render slot is left taken, and when the
// store is fast again renders work with a single render slot.
func TestSlowMinIOIsBoundedByDeadlines(t *testing.T) {
	m := testenv.StartMinIO(t)
	proxy := startSlowProxy(t, m.Endpoint, 5*time.Second)
	cfg := cache.DefaultMinIOConfig()
	cfg.Endpoint, cfg.AccessKey, cfg.SecretKey, cfg.Bucket, cfg.Timeout = proxy.addr(), m.AccessKey, m.SecretKey, "slow-covers", time.Second
	store, err := cache.NewMinIOStore(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	src := newSource(t)
	svc := startService(t, store, src, map[string]string{"MAX_CONCURRENT_TRANSFORMS": "1", "TRANSFORM_QUEUE_SIZE": "2", "MANIFEST_TTL": "1h"})
	svc.warm("SLOWS3", src.add("/s.jpg", readTestdata(t, "photo-1600x2400-baseline.jpg")))
	if resp, _ := do(t, http.MethodGet, svc.signed("/covers/SLOWS3/160.webp"), nil); resp.StatusCode != 200 {
		t.Fatalf("warm-up GET = %d", resp.StatusCode)
	}

	proxy.slow.Store(true)
	start := time.Now()
	if resp, _ := do(t, http.MethodGet, svc.signed("/covers/SLOWS3/160.webp"), nil); resp.StatusCode != 200 || time.Since(start) > time.Second {
		t.Errorf("cached variant with MinIO slow = %d after %v, want 200 at once", resp.StatusCode, time.Since(start))
	}
	type answer struct {
		path   string
		status int
		took   time.Duration
	}
	// Five new variants of a book whose manifest is cached (the variant
	// read times out), and a book never seen (the manifest read times out).
	paths := []string{"/covers/SLOWS3/200.webp", "/covers/SLOWS3/201.webp", "/covers/SLOWS3/202.avif",
		"/covers/SLOWS3/203x300.webp", "/covers/SLOWS3/204.webp", "/covers/NEVER-SEEN/320.webp"}
	answers := make([]answer, len(paths))
	gets := loadloop.Start(loadloop.Config{Workers: len(paths), Each: 1}, func(c loadloop.Call) string {
		path := paths[c.Worker]
		start := time.Now()
		resp, err := http.Get(svc.signed(path))
		a := answer{path: path, took: time.Since(start)}
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			a.status = resp.StatusCode
		}
		answers[c.Worker] = a
		return ""
	})
	start = time.Now()
	resp, body := do(t, http.MethodGet, svc.base+"/ready", nil)
	if took := time.Since(start); resp.StatusCode != 200 || !strings.Contains(string(body), `"object_store":"unreachable"`) || took > 2500*time.Millisecond {
		t.Errorf("/ready with MinIO slow = %d %s after %v, want 200 degraded (object_store unreachable) within the 2s budget", resp.StatusCode, body, took)
	}
	if resp, _ := do(t, http.MethodGet, svc.base+"/health", nil); resp.StatusCode != 200 {
		t.Errorf("/health with MinIO slow = %d, want 200", resp.StatusCode)
	}
	gets.Wait()
	for _, a := range answers {
		if (a.status != 504 && a.status != 503) || a.took > 5*time.Second {
			t.Errorf("GET %s with MinIO slow = %d after %v, want 504/503 within 5s", a.path, a.status, a.took)
		}
		t.Logf("GET %s with MinIO slow: %d in %v", a.path, a.status, a.took.Round(time.Millisecond))
	}
	if n := metricValue(t, svc, "covers_transform_in_flight"); n != 0 {
		t.Errorf("covers_transform_in_flight = %v while MinIO is slow, want 0 (no slot held)", n)
	}

	proxy.slow.Store(false)
	deadline := time.Now().Add(15 * time.Second)
	for _, size := range []string{"300", "301", "302"} {
		for {
			resp, _ := do(t, http.MethodGet, svc.signed("/covers/SLOWS3/"+size+".webp"), nil)
			if resp.StatusCode == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET %s.webp after MinIO is fast again = %d, want 200 within 15s", size, resp.StatusCode)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if n := metricValue(t, svc, "covers_transform_in_flight"); n != 0 {
		t.Errorf("covers_transform_in_flight = %v after recovery, want 0", n)
	}
	if resp, _ := do(t, http.MethodGet, svc.base+"/ready", nil); resp.StatusCode != 200 {
		t.Errorf("/ready after MinIO is fast again = %d, want 200", resp.StatusCode)
	}
}
