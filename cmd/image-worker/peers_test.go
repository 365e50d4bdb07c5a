package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestPeerSecretAndKeysBetweenReplicas runs real replicas on one local
// store as groupcache peers with PEER_SECRET: peer traffic carries the
// secret (the owner serves it, nothing is refused); a request to the peer
// path without the secret is 401, with a wrong one 403, and with the secret
// but a key the public path could not produce (too wide, bad book id,
// unknown format) 400. A replica with another secret is refused by its peer
// and still answers every cover, rendered locally.
func TestPeerSecretAndKeysBetweenReplicas(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	data, version := importLocal(t, bin, "PS1")
	const secret, otherSecret = "peer-secret-shared-0123456789", "peer-secret-another-0123456789"
	internals := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	start := func(i int, secret string, peers ...int) *replica {
		list := ""
		for j, p := range peers {
			if j > 0 {
				list += ","
			}
			list += "http://" + internals[p]
		}
		return startReplica(t, bin, map[string]string{"LISTEN_ADDR": freeAddr(t), "INTERNAL_ADDR": internals[i],
			"GROUPCACHE_SELF": "http://" + internals[i], "GROUPCACHE_PEERS": list, "PEER_SECRET": secret,
			"DATA_DIR": data, "IMAGE_SIGNING_KEYS": testKeyHex, "KAFKA_BROKERS": "", "PRERENDER": "", "LOG_LEVEL": "warn", "SHUTDOWN_DELAY": "0s"})
	}
	get := signedGetter(t)
	count := func(r *replica, result string) float64 {
		return r.metric(t, `covers_cache_peer_requests_total{result="`+result+`"}`)
	}

	a, b := start(0, secret, 0, 1), start(1, secret, 0, 1)
	for i := range 16 {
		if code := get([]*replica{a, b}[i%2], fmt.Sprintf("/covers/PS1/%d.webp", 100+i)); code != 200 {
			t.Fatalf("GET variant %d = %d, want 200", i, code)
		}
	}
	if served := count(a, "served") + count(b, "served"); served == 0 {
		for _, r := range []*replica{a, b} {
			resp, _ := http.Get("http://" + r.internal + "/metrics")
			body, _ := io.ReadAll(resp.Body)
			for _, l := range strings.Split(string(body), "\n") {
				if strings.Contains(l, "peer") || strings.Contains(l, "lookups_total") || strings.Contains(l, "renders_total") {
					t.Log(r.internal, l)
				}
			}
		}
		t.Errorf("16 variants through two peers with one secret: no peer request served, want some (is the secret sent?)")
	}
	for _, r := range []*replica{a, b} {
		if n := count(r, "no_secret") + count(r, "wrong_secret") + count(r, "bad_key"); n != 0 {
			t.Errorf("peer traffic with the shared secret: %v requests refused, want 0", n)
		}
	}

	peer := func(key string, hdr map[string]string) int {
		resp, _ := do(t, http.MethodGet, "http://"+b.internal+"/_groupcache/covers/"+url.QueryEscape(key), hdr)
		return resp.StatusCode
	}
	good := "PS1/" + version + "/320.webp"
	withSecret := map[string]string{"X-Peer-Secret": secret}
	cases := []struct {
		name string
		key  string
		hdr  map[string]string
		want int
	}{
		{"no secret", good, nil, 401},
		{"wrong secret", good, map[string]string{"X-Peer-Secret": otherSecret}, 403},
		{"the secret", good, withSecret, 200},
		{"width over 2048", "PS1/" + version + "/4096.webp", withSecret, 400},
		{"box over 2048", "PS1/" + version + "/320x3000.avif", withSecret, 400},
		{"below 16", "PS1/" + version + "/8.webp", withSecret, 400},
		{"bad book id", ".PS1/" + version + "/320.webp", withSecret, 400},
		{"unknown format", "PS1/" + version + "/320.png", withSecret, 400},
		{"not canonical", "PS1/" + version + "/0320.webp", withSecret, 400},
		{"bad version", "PS1/" + version + ".x/320.webp", withSecret, 400},
	}
	for _, c := range cases {
		if got := peer(c.key, c.hdr); got != c.want {
			t.Errorf("peer GET %s (%s) = %d, want %d", c.key, c.name, got, c.want)
		}
	}
	if n, w, k := count(b, "no_secret"), count(b, "wrong_secret"), count(b, "bad_key"); n != 1 || w != 1 || k != 7 {
		t.Errorf("refusals counted: no_secret %v, wrong_secret %v, bad_key %v; want 1, 1, 7", n, w, k)
	}

	// A replica with another secret: its peer refuses it, it renders locally.
	c := start(2, otherSecret, 0, 2)
	before := count(a, "wrong_secret")
	for i := range 16 {
		if code := get(c, fmt.Sprintf("/covers/PS1/%d.webp", 300+i)); code != 200 {
			t.Fatalf("GET variant %d through the replica with another secret = %d, want 200 (local render)", i, code)
		}
	}
	if count(a, "wrong_secret") == before {
		t.Error("16 variants through a replica with another secret: its peer refused none, want some 403s")
	}
}
