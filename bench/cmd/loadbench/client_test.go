package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConnReadsStatusLengthAndRetryAfter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			_, _ = w.Write([]byte(strings.Repeat("x", 12345)))
		case "/shed":
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Length", "2")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("{}"))
		case "/close":
			w.Header().Set("Connection", "close")
			_, _ = w.Write([]byte("bye"))
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	c := newConn(host)
	defer c.close()
	cases := []struct {
		path       string
		status     int
		bodyLen    int
		retryAfter bool
	}{
		{"/ok", 200, 12345, false},
		{"/shed", 503, 2, true},
		{"/ok", 200, 12345, false}, // same connection, after a 503
		{"/close", 200, 3, false},
		{"/ok", 200, 12345, false}, // dials again after Connection: close
	}
	for _, tc := range cases {
		got, err := c.do(getRequest(host, tc.path))
		if err != nil || got.status != tc.status || got.bodyLen != tc.bodyLen || got.retryAfter != tc.retryAfter {
			t.Errorf("GET %s = %+v, %v; want status %d, %d bytes, Retry-After %v", tc.path, got, err, tc.status, tc.bodyLen, tc.retryAfter)
		}
	}
}

func TestClosedLoopCountsEveryAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	req := getRequest(host, "/")
	r := closedLoop(t.Context(), host, 4, 200*time.Millisecond, func(int64) []byte { return req })
	if r.Requests == 0 || r.Status[200] != r.Requests || len(r.Lat) != r.Requests || r.Errors != 0 {
		t.Errorf("closed loop: %d requests, statuses %v, %d latencies, %d errors", r.Requests, r.Status, len(r.Lat), r.Errors)
	}
}

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
pkg: github.com/bookcovers/image-worker/proxy
BenchmarkCoverHit/unversioned-2         	  394748	      2954 ns/op	     608 B/op	      11 allocs/op
pkg: github.com/bookcovers/image-worker/transform
BenchmarkRender/1600x2400/webp/320-2    	      26	  43177461 ns/op	     16816 out-bytes	   42452 B/op	      83 allocs/op
BenchmarkLadder/ladder-2                	       5	1126445100 ns/op	       948.6 cpu-ms/ladder	         0.9689 cpu-ratio	  293387 B/op	      30 allocs/op
PASS
`
	path := filepath.Join(t.TempDir(), "gobench.txt")
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := parseGoBench(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []goBench{
		{Name: "proxy.CoverHit/unversioned", NsOp: "2954", BOp: "608", AllocsOp: "11"},
		{Name: "transform.Render/1600x2400/webp/320", NsOp: "43177461", BOp: "42452", AllocsOp: "83", Other: "16816 out-bytes"},
		{Name: "transform.Ladder/ladder", NsOp: "1126445100", BOp: "293387", AllocsOp: "30", Other: "948.6 cpu-ms/ladder, 0.9689 cpu-ratio"},
	}
	if len(got) != len(want) {
		t.Fatalf("parsed %d benchmarks, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("benchmark %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if ratio, ok := ladderRatio(got); !ok || ratio != 0.9689 {
		t.Errorf("ladderRatio = %v, %v; want 0.9689", ratio, ok)
	}
}

func TestPercentile(t *testing.T) {
	s := []int64{5, 1, 4, 2, 3}
	cases := []struct {
		p    float64
		want time.Duration
	}{{0, 1}, {50, 3}, {100, 5}}
	for _, c := range cases {
		if got := pct(s, c.p); got != c.want {
			t.Errorf("pct(%v, %v) = %v, want %v", s, c.p, got, c.want)
		}
	}
	if got := pct(nil, 99); got != 0 {
		t.Errorf("pct(nil) = %v, want 0", got)
	}
}
