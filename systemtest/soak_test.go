//go:build soak

package systemtest

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/internal/hostile"
	"github.com/bookcovers/image-worker/internal/loadloop"
	"github.com/bookcovers/image-worker/internal/replica"
)

// soakSample is one reading of the process under soak.
type soakSample struct {
	at         time.Duration
	rssMB      float64
	goroutines float64
	workersMB  float64 // RSS of all render workers
	workers    int
	requests   int64
}

// TestSoak runs the real binary under a bounded mixed load for SOAK_DURATION
// (default 3m, at least 2m): cache hits, new variants (misses),
// placeholders and hostile input (bad signatures, bad paths, decompression
// bombs and cut files via /process) from 4 clients. Every 10s it samples the
// serving process's RSS, go_goroutines and the render workers' total RSS.
// After the warm-up (the first third, at least 1m) the serving process's RSS
// must not grow by more than 15% + 20 MB; once the load stops the goroutines
// return to their baseline (+5) and each render worker holds under 445 MB
// (transform's per-render bound). The samples are printed as a table.
func TestSoak(t *testing.T) {
	duration := 3 * time.Minute
	if v := os.Getenv("SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SOAK_DURATION=%q: %v", v, err)
		}
		duration = d
	}
	bin := replica.Build(t)
	data := t.TempDir()
	hot := map[string]string{"SOAK-JPG": "photo-1600x2400-baseline.jpg", "SOAK-PNG": "cover-800x1200-alpha.png", "SOAK-AVIF": "cover-1200x1800.avif"}
	for book, file := range hot {
		replica.Import(t, bin, localKeys(data), book, testdata+file)
	}
	src := newOrigin(t, 0)
	jpg := readTestdata(t, "photo-1600x2400-baseline.jpg")
	bad := []string{
		src.add("/bomb.png", hostile.PNGBomb(30000, 30000)),
		src.add("/bomb.gif", hostile.GIFScreen(30000, 30000)),
		src.add("/bomb.jpg", hostile.JPEGDeclaring(40000, 40000)),
		src.add("/cut.jpg", jpg[:len(jpg)/2]),
		src.add("/page.jpg", []byte("<!doctype html><html></html>")),
	}
	r := replica.Start(t, bin, map[string]string{"DATA_DIR": data, "IMAGE_SIGNING_KEYS": testKeyHex, "KAFKA_BROKERS": "", "PRERENDER": "",
		"LOG_LEVEL": "error", "SHUTDOWN_DELAY": "0s",
		"GROUPCACHE_SIZE_MB": "16", "MALLOC_ARENA_MAX": "2", "SOURCE_ALLOW_PRIVATE_HOSTS": src.hostPort()})
	signer := signerOf(t, testKeyHex)
	base := "http://" + r.Public
	signed := func(path string) string { return base + path + "?sig=" + signer.Sign(path, nil) }
	transport := &http.Transport{MaxIdleConnsPerHost: 16}
	client := &http.Client{Transport: transport, Timeout: 60 * time.Second}
	hits := []string{}
	for book := range hot {
		for _, f := range []string{"320.webp", "640.avif", "thumb.webp"} {
			hits = append(hits, signed("/covers/"+book+"/"+f))
		}
	}
	for _, u := range hits {
		if resp, err := client.Get(u); err != nil || resp.StatusCode != 200 {
			t.Fatalf("warm a hit: %v", err)
		} else {
			resp.Body.Close()
		}
	}
	transport.CloseIdleConnections()
	time.Sleep(time.Second)
	sample := func(at time.Duration, requests int64) soakSample {
		s := soakSample{at: at, rssMB: float64(procStatusKB(t, r.Pid(), "VmRSS")) / 1024, goroutines: r.Metric(t, "go_goroutines"), requests: requests}
		for _, pid := range childPIDs(t, r.Pid()) {
			s.workersMB += float64(procStatusKB(t, pid, "VmRSS")) / 1024
			s.workers++
		}
		return s
	}
	baseline := sample(0, 0)

	var failures atomic.Int64
	// one makes the n-th request of the mix and returns its kind and status.
	one := func(n int64) string {
		var (
			resp *http.Response
			err  error
			kind string
		)
		switch op := n % 20; {
		case op < 10:
			kind = "hit"
			resp, err = client.Get(hits[n%int64(len(hits))])
		case op < 15:
			k := n/20*5 + op - 10 // a new variant every time, until the 3800 combinations run out
			formats := []string{"webp", "avif"}
			kind = "miss"
			resp, err = client.Get(signed(fmt.Sprintf("/covers/SOAK-JPG/%d.%s", 100+k%1900, formats[k/1900%2])))
		case op < 17:
			kind = "placeholder"
			resp, err = client.Get(signed(fmt.Sprintf("/covers/SOAK-NONE-%d/%d.webp", n%40, 160+n%3*160)))
		case op == 17:
			kind = "bad signature"
			resp, err = client.Get(base + "/covers/SOAK-JPG/320.webp?sig=" + strings.Repeat("A", 43))
		case op == 18:
			kind = "bad path"
			resp, err = client.Get(base + "/covers/..%2F..%2Fetc%2Fpasswd/320.webp?sig=x&v=1&v=2")
		default:
			kind = "hostile /process"
			body := fmt.Sprintf(`{"book_id":"SOAK-BAD-%d","image_url":%q}`, n%50, bad[n/20%int64(len(bad))])
			resp, err = client.Post(base+"/process", "application/json", strings.NewReader(body))
		}
		if err != nil {
			failures.Add(1)
			return kind + " error 0"
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 && resp.StatusCode != 503 {
			failures.Add(1)
		}
		return fmt.Sprintf("%s %d", kind, resp.StatusCode)
	}

	samples := []soakSample{baseline}
	start := time.Now()
	load := loadloop.Start(loadloop.Config{Workers: 4}, func(c loadloop.Call) string { return one(int64(c.Seq + 1)) })
	tick := time.NewTicker(10 * time.Second)
	for time.Since(start) < duration {
		<-tick.C
		samples = append(samples, sample(time.Since(start), int64(load.Counts().Sum())))
	}
	tick.Stop()
	statuses := load.Stop()
	requests := int64(statuses.Sum())
	transport.CloseIdleConnections()
	time.Sleep(5 * time.Second)
	after := sample(time.Since(start), requests)

	fmt.Printf("soak: %s of mixed load, %d requests\n%8s %9s %11s %9s %9s\n", duration, requests, "t", "RSS MB", "goroutines", "workers MB", "requests")
	for _, s := range append(samples, after) {
		fmt.Printf("%8s %9.1f %11.0f %9.2f %9d\n", s.at.Round(time.Second), s.rssMB, s.goroutines, s.workersMB, s.requests)
	}
	fmt.Printf("answers: %v\n", statuses)

	if failures.Load() != 0 {
		t.Errorf("%d requests failed (transport error or 5xx other than 503): %v", failures.Load(), statuses)
	}
	// Warm-up is the first third, and at least a minute: that is how long
	// the 16 MB groupcache and the allocators take to fill at this load.
	warm := len(samples) / 3
	for warm < len(samples) && samples[warm].at < time.Minute {
		warm++
	}
	if len(samples)-warm < 3 {
		t.Fatalf("only %d samples after the warm-up: SOAK_DURATION=%s is too short, use at least 2m", len(samples)-warm, duration)
	}
	warmRSS, peak := samples[warm].rssMB, 0.0
	for _, s := range samples[warm:] {
		peak = max(peak, s.rssMB)
	}
	if limit := warmRSS*1.15 + 20; peak > limit {
		t.Errorf("RSS grew after warm-up: %.1f MB at %s, peak %.1f MB later, limit %.1f MB", warmRSS, samples[warm].at.Round(time.Second), peak, limit)
	}
	if after.goroutines > baseline.goroutines+5 {
		t.Errorf("goroutines after the load = %.0f, baseline %.0f: want them back within +5", after.goroutines, baseline.goroutines)
	}
	if after.workers == 0 || after.workersMB > float64(after.workers)*445 {
		t.Errorf("%d render workers hold %.1f MB after the load; want at least one, each under 445 MB", after.workers, after.workersMB)
	}
}
