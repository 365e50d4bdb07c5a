package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Every server here listens on 127.0.0.1 (or ::1) and every fetcher gets a
// fake resolver: no test sends a packet off the machine or resolves a name.

// testServer is an httptest server on loopback that counts connections and requests.
type testServer struct {
	*httptest.Server
	conns    atomic.Int64
	requests atomic.Int64
}

func newTestServer(t *testing.T, h http.HandlerFunc) *testServer {
	t.Helper()
	s := &testServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		h(w, r)
	}))
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *testServer) hostPort() string { return s.Listener.Addr().String() }

func (s *testServer) port() string {
	_, p, _ := net.SplitHostPort(s.hostPort())
	return p
}

// countingListener accepts and immediately closes connections on 127.0.0.1,
// counting them.
func countingListener(t *testing.T) (net.Listener, func() int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln, n.Load
}

// rawServer answers each connection with respond after reading the request
// head; it returns the address and the bytes respond reported writing.
func rawServer(t *testing.T, respond func(c net.Conn) int64) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var written atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				written.Add(respond(c))
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String(), &written
}

// stream writes head then chunk repeatedly up to limit bytes of body,
// stopping at the first write error (the client hung up).
func stream(c net.Conn, head string, chunk []byte, limit int64) int64 {
	if _, err := io.WriteString(c, head); err != nil {
		return 0
	}
	var n int64
	for n < limit {
		w, err := c.Write(chunk)
		n += int64(w)
		if err != nil {
			break
		}
	}
	return n
}

func testFetcher(t *testing.T, mutate func(*FetchConfig), allow ...string) *Fetcher {
	t.Helper()
	cfg := DefaultFetchConfig()
	cfg.Timeout = 5 * time.Second
	cfg.AttemptTimeout = 2 * time.Second
	cfg.RetryBase = time.Millisecond
	cfg.RetryMax = 5 * time.Millisecond
	cfg.AllowPrivate = allow
	cfg.Resolver = &fakeResolver{}
	if mutate != nil {
		mutate(&cfg)
	}
	f, err := NewFetcher(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("NewFetcher: %v", err)
	}
	t.Cleanup(f.Close)
	return f
}

// metricValue reads one sample of a set in Prometheus text format.
func metricValue(t *testing.T, set *metrics.Set, name string) float64 {
	t.Helper()
	var buf bytes.Buffer
	set.WritePrometheus(&buf)
	for _, line := range strings.Split(buf.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not found in:\n%s", name, buf.String())
	return 0
}

func result(r string) string { return `covers_ingest_fetches_total{result="` + r + `"}` }

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 0x80
	}
	img.Set(0, 0, color.RGBA{R: 255, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestFetchSuccess(t *testing.T) {
	t.Parallel()
	cover := pngBytes(t, 40, 60)
	var gotUA, gotAccept string
	srv := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		gotUA, gotAccept = r.UserAgent(), r.Header.Get("Accept")
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(cover)
	})
	f := testFetcher(t, nil, srv.hostPort())
	res, err := f.Fetch(context.Background(), srv.URL+"/covers/1.png?sig=abc")
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	img, format, err := image.Decode(bytes.NewReader(res.Body))
	if err != nil || format != "png" || img.Bounds().Dx() != 40 || img.Bounds().Dy() != 60 {
		t.Fatalf("decoded %v %q %v, want 40x60 png", img.Bounds(), format, err)
	}
	if r, _, _, _ := img.At(0, 0).RGBA(); r>>8 != 255 {
		t.Errorf("pixel (0,0) red = %d, want 255", r>>8)
	}
	if res.ContentType != "image/png" || res.Attempts != 1 || res.FinalURL != srv.URL+"/covers/1.png?sig=abc" {
		t.Errorf("Fetched = {%q, attempts %d, %q}, want image/png, 1, the URL", res.ContentType, res.Attempts, res.FinalURL)
	}
	if gotUA != DefaultFetchConfig().UserAgent || gotAccept != "image/*" {
		t.Errorf("request headers UA=%q Accept=%q", gotUA, gotAccept)
	}
	if v := metricValue(t, f.Metrics(), result("ok")); v != 1 {
		t.Errorf("ok counter = %v, want 1", v)
	}
	if v := metricValue(t, f.Metrics(), "covers_ingest_original_bytes_total"); v != float64(len(cover)) {
		t.Errorf("bytes counter = %v, want %d", v, len(cover))
	}
	if v := metricValue(t, f.Metrics(), "covers_ingest_fetch_duration_seconds_count"); v != 1 {
		t.Errorf("duration count = %v, want 1", v)
	}
}

func TestFetchRefusesLoopbackOutsideAllowList(t *testing.T) {
	t.Parallel()
	allowed := newTestServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	forbidden := newTestServer(t, func(w http.ResponseWriter, r *http.Request) { t.Error("forbidden server reached") })
	port := forbidden.port()
	resolver := &fakeResolver{answers: map[string][]netip.Addr{
		"localhost":      addrs("127.0.0.1"),
		"rebind.example": addrs("127.0.0.1"),
	}}
	// The forbidden port is an allowed port here, so what refuses each URL
	// is the address policy (the port policy has tests of its own).
	portNum, _ := strconv.Atoi(port)
	f := testFetcher(t, func(c *FetchConfig) {
		c.Resolver = resolver
		c.AllowedPorts = []int{80, 443, portNum}
	}, allowed.hostPort())

	urls := []string{
		"http://127.0.0.1:" + port + "/",
		"http://2130706433:" + port + "/",
		"http://0x7f000001:" + port + "/",
		"http://0177.0.0.1:" + port + "/",
		"http://127.1:" + port + "/",
		"http://[::ffff:127.0.0.1]:" + port + "/",
		"http://0.0.0.0:" + port + "/",
		"http://localhost:" + port + "/",
		"http://rebind.example:" + port + "/",
		"http://[::1]:" + port + "/",
	}
	// A forbidden server on ::1 too, when the host has IPv6 loopback.
	if ln6, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		srv6 := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		var conns6 atomic.Int64
		srv6.Config.ConnState = func(net.Conn, http.ConnState) { conns6.Add(1) }
		srv6.Listener.Close()
		srv6.Listener = ln6
		srv6.Start()
		t.Cleanup(func() {
			srv6.Close()
			if n := conns6.Load(); n != 0 {
				t.Errorf("forbidden [::1] server saw %d connections, want 0", n)
			}
		})
		urls = append(urls, srv6.URL+"/")
	}
	for _, u := range urls {
		_, err := f.Fetch(context.Background(), u)
		if !errors.Is(err, ErrBlockedAddress) {
			t.Errorf("Fetch(%s) = %v, want ErrBlockedAddress", u, err)
		}
		if IsRetryable(err) {
			t.Errorf("IsRetryable(Fetch(%s)) = true, want false", u)
		}
	}
	if n := forbidden.conns.Load(); n != 0 {
		t.Errorf("forbidden server saw %d connections, want 0", n)
	}
	if resolver.calls.Load() != 2 {
		t.Errorf("resolver calls = %d, want 2 (localhost, rebind.example)", resolver.calls.Load())
	}
	if v := metricValue(t, f.Metrics(), result("blocked")); v != float64(len(urls)) {
		t.Errorf("blocked counter = %v, want %d", v, len(urls))
	}
	if _, err := f.Fetch(context.Background(), allowed.URL+"/"); err != nil {
		t.Errorf("Fetch(allowed %s) = %v, want success", allowed.URL, err)
	}
}

func TestFetchRedirects(t *testing.T) {
	t.Parallel()
	forbidden := newTestServer(t, func(w http.ResponseWriter, r *http.Request) { t.Error("forbidden server reached") })
	fport := forbidden.port()
	var referer atomic.Value
	srv := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case strings.HasPrefix(p, "/hop/"):
			n, _ := strconv.Atoi(strings.TrimPrefix(p, "/hop/"))
			if n == 0 {
				_, _ = io.WriteString(w, "landed")
				return
			}
			http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), http.StatusFound)
		case p == "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case p == "/ping":
			http.Redirect(w, r, "/pong", http.StatusMovedPermanently)
		case p == "/pong":
			http.Redirect(w, r, "/ping", http.StatusTemporaryRedirect)
		case p == "/c1":
			http.Redirect(w, r, "/c2", http.StatusFound)
		case p == "/c2":
			http.Redirect(w, r, "/c3", http.StatusFound)
		case p == "/c3":
			http.Redirect(w, r, "http://127.0.0.1:"+fport+"/internal", http.StatusFound)
		case p == "/to-decimal":
			http.Redirect(w, r, "http://2130706433:"+fport+"/", http.StatusFound)
		case p == "/to-name":
			http.Redirect(w, r, "http://internal.example:"+fport+"/", http.StatusFound)
		case p == "/to-ftp":
			http.Redirect(w, r, "ftp://example.com/a.jpg", http.StatusFound)
		case p == "/to-userinfo":
			http.Redirect(w, r, "http://a@example.com/", http.StatusFound)
		case p == "/no-location":
			w.WriteHeader(http.StatusFound)
		case p == "/ref-src":
			http.Redirect(w, r, "/ref-dst", http.StatusFound)
		case p == "/ref-dst":
			referer.Store(r.Referer())
			_, _ = io.WriteString(w, "ok")
		}
	})
	resolver := &fakeResolver{answers: map[string][]netip.Addr{"internal.example": addrs("127.0.0.1")}}
	tests := []struct {
		name     string
		path     string
		wantErr  error
		requests int64
	}{
		{"three redirects allowed", "/hop/3", nil, 4},
		{"four redirects", "/hop/4", ErrTooManyRedirects, 4},
		{"self loop", "/loop", ErrTooManyRedirects, 1},
		{"two-step loop", "/ping", ErrTooManyRedirects, 2},
		{"chain of two then into private space", "/c1", ErrBlockedAddress, 3},
		{"into decimal loopback", "/to-decimal", ErrBlockedAddress, 1},
		{"into a name resolving to loopback", "/to-name", ErrBlockedAddress, 1},
		{"into ftp", "/to-ftp", ErrInvalidURL, 1},
		{"into userinfo", "/to-userinfo", ErrInvalidURL, 1},
		{"3xx without location", "/no-location", ErrFetchFailed, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := testFetcher(t, func(c *FetchConfig) { c.Resolver = resolver }, srv.hostPort())
			before := srv.requests.Load()
			res, err := f.Fetch(context.Background(), srv.URL+tt.path)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Fetch(%s) = %v, want %v", tt.path, err, tt.wantErr)
			}
			if got := srv.requests.Load() - before; got != tt.requests {
				t.Errorf("Fetch(%s) made %d requests, want %d", tt.path, got, tt.requests)
			}
			if IsRetryable(err) {
				t.Errorf("IsRetryable(%v) = true, want false", err)
			}
			if tt.wantErr == nil && (string(res.Body) != "landed" || !strings.HasSuffix(res.FinalURL, "/hop/0")) {
				t.Errorf("Fetch(%s) = %q at %s, want \"landed\" at /hop/0", tt.path, res.Body, res.FinalURL)
			}
		})
	}
	if n := forbidden.conns.Load(); n != 0 {
		t.Errorf("forbidden server saw %d connections, want 0", n)
	}
	t.Run("referer dropped", func(t *testing.T) {
		f := testFetcher(t, nil, srv.hostPort())
		if _, err := f.Fetch(context.Background(), srv.URL+"/ref-src?token=secret"); err != nil {
			t.Fatal(err)
		}
		if got, _ := referer.Load().(string); got != "" {
			t.Errorf("redirect target got Referer %q, want none", got)
		}
	})
}

func TestFetchSizeLimits(t *testing.T) {
	t.Parallel()
	const maxBytes = 64 << 10
	const flood = 64 << 20
	chunk := bytes.Repeat([]byte("x"), 32<<10)
	hexChunk := []byte(fmt.Sprintf("%x\r\n%s\r\n", len(chunk), chunk))

	closeDelimited, closeWritten := rawServer(t, func(c net.Conn) int64 {
		return stream(c, "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nConnection: close\r\n\r\n", chunk, flood)
	})
	chunkedLying, chunkedWritten := rawServer(t, func(c net.Conn) int64 {
		return stream(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n", hexChunk, flood)
	})
	shortLength, _ := rawServer(t, func(c net.Conn) int64 {
		return stream(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n", chunk, 1<<20)
	})
	// Declares too much, sends nothing, and holds the connection: only an
	// early refusal (no body read) is fast.
	hugeLength, _ := rawServer(t, func(c net.Conn) int64 {
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n")
		buf := make([]byte, 1)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = c.Read(buf) // returns when the client closes
		return 0
	})
	exact := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(n))
		}
		_, _ = w.Write(bytes.Repeat([]byte("y"), n))
	})

	tests := []struct {
		name     string
		url      string
		wantErr  error
		wantLen  int
		maxTime  time.Duration
		written  *atomic.Int64
		hostPort string
	}{
		{"no length, body over cap", "http://" + closeDelimited + "/", ErrTooLarge, 0, 0, closeWritten, closeDelimited},
		{"content-length lies, chunked body over cap", "http://" + chunkedLying + "/", ErrTooLarge, 0, 0, chunkedWritten, chunkedLying},
		{"content-length shorter than body: only declared bytes read", "http://" + shortLength + "/", nil, 100, 0, nil, shortLength},
		{"content-length over cap fails before reading", "http://" + hugeLength + "/", ErrTooLarge, 0, time.Second, nil, hugeLength},
		{"exactly the cap", exact.URL + "/?n=65536", nil, maxBytes, 0, nil, exact.hostPort()},
		{"exactly the cap, chunked", exact.URL + "/?n=65536&chunked=1", nil, maxBytes, 0, nil, exact.hostPort()},
		{"one over the cap, chunked", exact.URL + "/?n=65537&chunked=1", ErrTooLarge, 0, 0, nil, exact.hostPort()},
		{"one over the cap, declared", exact.URL + "/?n=65537", ErrTooLarge, 0, 0, nil, exact.hostPort()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := testFetcher(t, func(c *FetchConfig) { c.MaxBytes = maxBytes }, tt.hostPort)
			start := time.Now()
			res, err := f.Fetch(context.Background(), tt.url)
			elapsed := time.Since(start)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Fetch = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && len(res.Body) != tt.wantLen {
				t.Errorf("body length %d, want %d", len(res.Body), tt.wantLen)
			}
			if tt.wantErr != nil && (IsRetryable(err) || res.Attempts != 1) {
				t.Errorf("retryable=%v attempts=%d, want false, 1", IsRetryable(err), res.Attempts)
			}
			if tt.maxTime > 0 && elapsed > tt.maxTime {
				t.Errorf("took %s, want under %s (no body read)", elapsed, tt.maxTime)
			}
			if errors.Is(tt.wantErr, ErrTooLarge) {
				if v := metricValue(t, f.Metrics(), result("too_large")); v != 1 {
					t.Errorf("too_large counter = %v, want 1", v)
				}
			}
			if tt.written != nil {
				f.Close()
				// The client stopped reading at the cap, so the server could not
				// push the whole flood (socket buffers absorb a few MiB at most).
				deadline := time.Now().Add(5 * time.Second)
				for tt.written.Load() == 0 && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				if w := tt.written.Load(); w == 0 || w >= flood {
					t.Errorf("server wrote %d bytes, want between 1 and %d", w, flood)
				}
			}
		})
	}
}

func TestFetchStatusAndRetries(t *testing.T) {
	t.Parallel()
	closed, _ := countingListener(t)
	refusedAddr := closed.Addr().String()
	closed.Close() // nothing listens there now: connection refused

	tests := []struct {
		name         string
		statuses     []int // per request; the last repeats
		wantErr      error
		wantAttempts int
		wantRequests int64
		retryable    bool
	}{
		{"ok first time", []int{200}, nil, 1, 1, false},
		{"503 twice then 200", []int{503, 503, 200}, nil, 3, 3, false},
		{"502 always", []int{502}, ErrFetchFailed, 3, 3, true},
		{"404 never retried", []int{404}, ErrSourceRejected, 1, 1, false},
		{"429 never retried", []int{429}, ErrSourceRejected, 1, 1, false},
		{"204 is 2xx", []int{204}, nil, 1, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var n atomic.Int64
			srv := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
				i := int(n.Add(1)) - 1
				w.WriteHeader(tt.statuses[min(i, len(tt.statuses)-1)])
			})
			f := testFetcher(t, nil, srv.hostPort())
			res, err := f.Fetch(context.Background(), srv.URL+"/x")
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Fetch = %v, want %v", err, tt.wantErr)
			}
			if res.Attempts != tt.wantAttempts || srv.requests.Load() != tt.wantRequests {
				t.Errorf("attempts %d, requests %d; want %d, %d", res.Attempts, srv.requests.Load(), tt.wantAttempts, tt.wantRequests)
			}
			if IsRetryable(err) != tt.retryable {
				t.Errorf("IsRetryable(%v) = %v, want %v", err, IsRetryable(err), tt.retryable)
			}
			if v := metricValue(t, f.Metrics(), "covers_ingest_fetch_retries_total"); v != float64(tt.wantAttempts-1) {
				t.Errorf("retries counter = %v, want %d", v, tt.wantAttempts-1)
			}
		})
	}

	t.Run("connection refused is retried then failed", func(t *testing.T) {
		t.Parallel()
		f := testFetcher(t, nil, refusedAddr)
		res, err := f.Fetch(context.Background(), "http://"+refusedAddr+"/x?token=secret")
		if !errors.Is(err, ErrFetchFailed) || !IsRetryable(err) || res.Attempts != 3 {
			t.Fatalf("Fetch = %v (retryable %v, attempts %d), want retryable ErrFetchFailed after 3", err, IsRetryable(err), res.Attempts)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("error leaks the query string: %v", err)
		}
		if v := metricValue(t, f.Metrics(), result("failed")); v != 1 {
			t.Errorf("failed counter = %v, want 1", v)
		}
	})
}

func TestFetchTimeouts(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	var firstHangs atomic.Bool
	firstHangs.Store(true)
	srv := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		hold := func() {
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		}
		switch r.URL.Path {
		case "/hang":
			hold()
		case "/drip":
			w.Header().Set("Content-Length", "100000")
			for i := 0; i < 1000; i++ {
				if _, err := w.Write([]byte("z")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		case "/hang-once":
			if firstHangs.CompareAndSwap(true, false) {
				hold()
				return
			}
			_, _ = io.WriteString(w, "late but fine")
		}
	})
	t.Cleanup(func() { close(stop) }) // runs before srv.Close

	tests := []struct {
		name         string
		path         string
		budget       time.Duration
		attempt      time.Duration
		wantErr      error
		wantAttempts int
	}{
		{"server hangs past the budget", "/hang", 300 * time.Millisecond, 10 * time.Second, ErrTimeout, 1},
		{"body drips past the budget", "/drip", 300 * time.Millisecond, 10 * time.Second, ErrTimeout, 1},
		{"one attempt times out, the next succeeds", "/hang-once", 3 * time.Second, 200 * time.Millisecond, nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := testFetcher(t, func(c *FetchConfig) {
				c.Timeout, c.AttemptTimeout = tt.budget, tt.attempt
			}, srv.hostPort())
			start := time.Now()
			res, err := f.Fetch(context.Background(), srv.URL+tt.path)
			elapsed := time.Since(start)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Fetch(%s) = %v, want %v", tt.path, err, tt.wantErr)
			}
			if res.Attempts != tt.wantAttempts {
				t.Errorf("attempts = %d, want %d", res.Attempts, tt.wantAttempts)
			}
			if elapsed > tt.budget+time.Second {
				t.Errorf("took %s, want about the %s budget", elapsed, tt.budget)
			}
			if tt.wantErr != nil {
				if !IsRetryable(err) {
					t.Errorf("IsRetryable(%v) = false, want true", err)
				}
				if v := metricValue(t, f.Metrics(), result("timeout")); v != 1 {
					t.Errorf("timeout counter = %v, want 1", v)
				}
			}
		})
	}

	t.Run("caller cancels", func(t *testing.T) {
		t.Parallel()
		f := testFetcher(t, nil, srv.hostPort())
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		go func() { time.Sleep(50 * time.Millisecond); cancel() }()
		_, err := f.Fetch(ctx, srv.URL+"/hang")
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) || IsRetryable(err) {
			t.Fatalf("Fetch = %v, want context.Canceled, not retryable", err)
		}
		if v := metricValue(t, f.Metrics(), result("canceled")); v != 1 {
			t.Errorf("canceled counter = %v, want 1", v)
		}
	})
}

func TestFetchLogsRedactedURL(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	var logs bytes.Buffer
	var mu sync.Mutex
	cfg := DefaultFetchConfig()
	cfg.RetryBase, cfg.RetryMax = time.Millisecond, time.Millisecond
	cfg.AllowPrivate = []string{srv.hostPort()}
	cfg.Resolver = &fakeResolver{}
	f, err := NewFetcher(cfg, slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = f.Fetch(context.Background(), srv.URL+"/c.jpg?token=secret")
	_, _ = f.Fetch(context.Background(), "http://127.0.0.1:1/c.jpg?token=secret")
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "/c.jpg") || !strings.Contains(logs.String(), "fetch retry") {
		t.Errorf("logs lack the retry record with the path:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "secret") || strings.Contains(err.Error(), "secret") {
		t.Errorf("query string leaked: err=%v logs=\n%s", err, logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestFetchConfigValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultFetchConfig().Validate(); err != nil {
		t.Fatalf("DefaultFetchConfig().Validate() = %v, want nil", err)
	}
	tests := []struct {
		name   string
		mutate func(*FetchConfig)
		want   []string
	}{
		{"timeouts", func(c *FetchConfig) { c.Timeout, c.AttemptTimeout = 0, -1 }, []string{"Timeout", "AttemptTimeout"}},
		{"sizes", func(c *FetchConfig) { c.MaxBytes, c.MaxURLLength = 0, 0 }, []string{"MaxBytes", "MaxURLLength"}},
		{"retries", func(c *FetchConfig) { c.MaxAttempts, c.RetryBase, c.RetryMax = 0, time.Second, time.Millisecond },
			[]string{"MaxAttempts", "RetryMax"}},
		{"redirects and agent", func(c *FetchConfig) { c.MaxRedirects, c.UserAgent = -1, "a\nb" }, []string{"MaxRedirects", "UserAgent"}},
		{"allow list", func(c *FetchConfig) { c.AllowPrivate = []string{"127.0.0.1", "host:0", "ok:80"} },
			[]string{`"127.0.0.1"`, `"host:0"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultFetchConfig()
			tt.mutate(&cfg)
			err := cfg.Validate()
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v, want it to name %s", err, w)
				}
			}
			if _, nerr := NewFetcher(cfg, nil); nerr == nil {
				t.Errorf("NewFetcher accepted an invalid config")
			}
		})
	}
}
