package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawRequest sends bytes as they are (no client-side cleaning) and returns
// the status code of the answer, or 0 when the server closed without one.
func rawRequest(t *testing.T, base, req string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		return 0, ""
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMalformedRequestsGetClearErrors(t *testing.T) {
	svc := startService(t, localStore(t), nil, nil)
	sig := func(p string) string { return strings.TrimPrefix(svc.signed(p), svc.base) }
	get := func(target string) string {
		return "GET " + target + " HTTP/1.1\r\nHost: covers\r\nConnection: close\r\n\r\n"
	}
	cases := []struct {
		name, req string
		want      int
		code      string
	}{
		{"traversal in book id", get("/covers/..%2F..%2Fetc/320.webp"), 404, "not_found"},
		{"dot-dot book id", get("/covers/../320.webp"), 0, ""}, // cleaned or refused: never 500
		{"NUL in book id", get("/covers/B%001/320.webp"), 400, "invalid_book_id"},
		{"backslash book id", get("/covers/B%5C1/320.webp"), 400, "invalid_book_id"},
		{"long path", get("/covers/" + strings.Repeat("a", 8000) + "/320.webp"), 400, "invalid_book_id"},
		{"huge signature", get("/covers/B1/320.webp?sig=" + strings.Repeat("A", 10000)), 403, "bad_signature"},
		{"short signature", get("/covers/B1/320.webp?sig=AAAA"), 403, "bad_signature"},
		// Refused as spellings the signer never emits ("=" and "!" would be
		// escaped), before the signature is even checked.
		{"signature with padding", get(sig("/covers/B1/320.webp") + "="), 400, "non_canonical_url"},
		{"non-alphabet signature", get("/covers/B1/320.webp?sig=" + strings.Repeat("%21", 43)), 400, "non_canonical_url"},
		{"non-alphabet signature, unescaped", get("/covers/B1/320.webp?sig=" + strings.Repeat("!", 43)), 400, "non_canonical_url"},
		{"trailing &", get(sig("/covers/B1/320.webp") + "&"), 400, "non_canonical_url"},
		{"percent-encoded path", get("/covers/B1/%33%320.webp?sig=x"), 400, "non_canonical_url"},
		{"double slash", get("//covers/B1/320.webp"), 400, "non_canonical_url"},
		{"exp overflow (signed)", get(sig("/covers/B1/320.webp?exp=99999999999999999999999")), 400, "bad_expiry"},
		{"exp negative (signed)", get(sig("/covers/B1/320.webp?exp=-5")), 400, "bad_expiry"},
		{"random parameter", get(sig("/covers/B1/320.webp") + "&utm_source=x"), 400, "bad_query"},
		{"duplicate v", get("/covers/B1/320.webp?v=a&v=b&sig=x"), 400, "bad_query"},
		{"empty parameter name", get("/covers/B1/320.webp?=x&sig=y"), 400, "bad_query"},
		{"percent garbage", get("/covers/B1/320.webp?%zz=1"), 400, "bad_query"},
		{"no file", get("/covers/B1"), 405, "method_not_allowed"},
		{"unknown route", get("/admin"), 404, "not_found"},
		{"oversize headers", "GET /health HTTP/1.1\r\nHost: covers\r\nX-Big: " + strings.Repeat("x", 40000) + "\r\n\r\n", 431, ""},
		{"bad method", "BREW /covers/B1/320.webp HTTP/1.1\r\nHost: covers\r\nConnection: close\r\n\r\n", 405, "method_not_allowed"},
		{"HTTP/0.9-ish garbage", "\x16\x03\x01garbage\r\n\r\n", 400, ""},
	}
	for _, c := range cases {
		status, body := rawRequest(t, svc.base, c.req)
		switch {
		case c.want == 0:
			if status >= 500 || status == 200 {
				t.Errorf("%s: status %d, want a 3xx/4xx", c.name, status)
			}
		case status != c.want:
			t.Errorf("%s: status %d %.200s, want %d", c.name, status, body, c.want)
		case c.code != "" && !strings.Contains(body, `"code":"`+c.code+`"`):
			t.Errorf("%s: body %.200s, want code %s", c.name, body, c.code)
		}
	}
	if resp, _ := do(t, http.MethodGet, svc.base+"/health", nil); resp.StatusCode != 200 {
		t.Errorf("service unhealthy after hostile requests: %d", resp.StatusCode)
	}
}

func TestSlowClientsAreCutByServerTimeouts(t *testing.T) {
	svc := startService(t, localStore(t), nil, map[string]string{"HTTP_READ_HEADER_TIMEOUT": "300ms", "HTTP_READ_TIMEOUT": "600ms"})
	cases := map[string]string{
		"slowloris headers": "GET /health HTTP/1.1\r\nHost: cov",
		"slow body":         "POST /process HTTP/1.1\r\nHost: covers\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"book_id\":",
	}
	for name, partial := range cases {
		conn, err := net.Dial("tcp", strings.TrimPrefix(svc.base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(conn, partial)
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		start := time.Now()
		_, err = io.ReadAll(conn) // returns when the server closes the connection
		conn.Close()
		if elapsed := time.Since(start); err != nil || elapsed > 4*time.Second {
			t.Errorf("%s: connection held for %v (err %v), want it closed by the server timeout", name, elapsed, err)
		}
	}
}

func TestSlowReaderDoesNotHoldARenderSlot(t *testing.T) {
	src := newSource(t)
	svc := startService(t, localStore(t), src, map[string]string{"MAX_CONCURRENT_TRANSFORMS": "1", "TRANSFORM_QUEUE_SIZE": "1", "HTTP_WRITE_TIMEOUT": "3s"})
	svc.warm("SLOW", src.add("/s.jpg", readTestdata(t, "photo-1600x2400-baseline.jpg")))
	// A client that asks for a large variant and never reads the answer.
	conn, err := net.Dial("tcp", strings.TrimPrefix(svc.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	target := strings.TrimPrefix(svc.signed("/covers/SLOW/2048.webp"), svc.base)
	_, _ = io.WriteString(conn, "GET "+target+" HTTP/1.1\r\nHost: covers\r\n\r\n")
	time.Sleep(800 * time.Millisecond) // its render is done; its bytes sit in the socket
	for _, size := range []string{"100", "101", "102"} {
		resp, _ := do(t, http.MethodGet, svc.signed("/covers/SLOW/"+size+".webp"), nil)
		if resp.StatusCode != 200 {
			t.Errorf("render while a slow reader is connected = %d, want 200 (the slot must be free)", resp.StatusCode)
		}
	}
}
