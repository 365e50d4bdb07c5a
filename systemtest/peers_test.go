package systemtest

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/internal/replica"
)

// TestBinaryPeersRenderOnce runs two real processes as groupcache peers on
// one store: the same variant asked of both is rendered once in total, the
// peer protocol is on the internal listener only, and SIGTERM stops cleanly.
func TestBinaryPeersRenderOnce(t *testing.T) {
	bin := replica.Build(t)
	data, _ := importLocal(t, bin, "PEER1")
	base := map[string]string{"DATA_DIR": data, "IMAGE_SIGNING_KEYS": testKeyHex, "KAFKA_BROKERS": "", "PRERENDER": "", "LOG_LEVEL": "warn", "SHUTDOWN_DELAY": "0s"}
	in1, in2 := replica.FreeAddr(t), replica.FreeAddr(t)
	reps := make([]*replica.Replica, 2)
	for i, self := range []string{in1, in2} {
		reps[i] = replica.Start(t, bin, base, map[string]string{"INTERNAL_ADDR": self,
			"GROUPCACHE_SELF": "http://" + self, "GROUPCACHE_PEERS": "http://" + in1 + ",http://" + in2})
	}
	signer := signerOf(t, testKeyHex)
	for _, size := range []string{"320", "321", "322", "323"} {
		path := "/covers/PEER1/" + size + ".webp"
		for _, r := range reps {
			status, body := httpGet(t, "http://"+r.Public+path+"?sig="+signer.Sign(path, nil), nil)
			if status != 200 || len(body) == 0 {
				t.Fatalf("GET %s on %s = %d", path, r.Public, status)
			}
		}
	}
	total := 0.0
	for _, r := range reps {
		total += r.Metric(t, `covers_transform_renders_total{format="webp",result="ok"}`)
	}
	if total != 4 {
		t.Errorf("4 variants asked of both peers rendered %v times in total, want 4", total)
	}
	// Through the peers, the second replica gets each variant from its owner's
	// memory; without them it would read it back from the shared store.
	storeHits := 0.0
	for _, r := range reps {
		storeHits += r.Metric(t, `covers_cache_lookups_total{layer="store",result="hit"}`)
	}
	if storeHits != 0 {
		t.Errorf("store hits = %v, want 0 (variants should come from the owning peer)", storeHits)
	}
	if status, _ := httpGet(t, "http://"+reps[0].Public+"/_groupcache/covers/x", nil); status != 404 {
		t.Errorf("peer protocol on the public port = %d, want 404", status)
	}
	switch exited, err := reps[0].Terminate(30 * time.Second); {
	case !exited:
		t.Errorf("no exit 30s after SIGTERM")
	case err != nil:
		t.Errorf("SIGTERM exit = %v, want 0", err)
	}
}

// TestPeerSecretAndKeysBetweenReplicas runs real replicas on one local
// store as groupcache peers with PEER_SECRET: peer traffic carries the
// secret (the owner serves it, nothing is refused); a request to the peer
// path without the secret is 401, with a wrong one 403, and with the secret
// but a key the public path could not produce (too wide, bad book id,
// unknown format) 400. A replica with another secret is refused by its peer
// and still answers every cover, rendered locally.
func TestPeerSecretAndKeysBetweenReplicas(t *testing.T) {
	bin := replica.Build(t)
	data, version := importLocal(t, bin, "PS1")
	const secret, otherSecret = "peer-secret-shared-0123456789", "peer-secret-another-0123456789"
	internals := []string{replica.FreeAddr(t), replica.FreeAddr(t), replica.FreeAddr(t)}
	start := func(i int, secret string, peers ...int) *replica.Replica {
		list := ""
		for j, p := range peers {
			if j > 0 {
				list += ","
			}
			list += "http://" + internals[p]
		}
		return replica.Start(t, bin, map[string]string{"INTERNAL_ADDR": internals[i],
			"GROUPCACHE_SELF": "http://" + internals[i], "GROUPCACHE_PEERS": list, "PEER_SECRET": secret,
			"DATA_DIR": data, "IMAGE_SIGNING_KEYS": testKeyHex, "KAFKA_BROKERS": "", "PRERENDER": "", "LOG_LEVEL": "warn", "SHUTDOWN_DELAY": "0s"})
	}
	get := signedGetter(t)
	count := func(r *replica.Replica, result string) float64 {
		return r.Metric(t, `covers_cache_peer_requests_total{result="`+result+`"}`)
	}

	a, b := start(0, secret, 0, 1), start(1, secret, 0, 1)
	for i := range 16 {
		if code := get([]*replica.Replica{a, b}[i%2], fmt.Sprintf("/covers/PS1/%d.webp", 100+i)); code != 200 {
			t.Fatalf("GET variant %d = %d, want 200", i, code)
		}
	}
	if served := count(a, "served") + count(b, "served"); served == 0 {
		for _, r := range []*replica.Replica{a, b} {
			resp, _ := http.Get("http://" + r.Internal + "/metrics")
			body, _ := io.ReadAll(resp.Body)
			for _, l := range strings.Split(string(body), "\n") {
				if strings.Contains(l, "peer") || strings.Contains(l, "lookups_total") || strings.Contains(l, "renders_total") {
					t.Log(r.Internal, l)
				}
			}
		}
		t.Errorf("16 variants through two peers with one secret: no peer request served, want some (is the secret sent?)")
	}
	for _, r := range []*replica.Replica{a, b} {
		if n := count(r, "no_secret") + count(r, "wrong_secret") + count(r, "bad_key"); n != 0 {
			t.Errorf("peer traffic with the shared secret: %v requests refused, want 0", n)
		}
	}

	peer := func(key string, hdr map[string]string) int {
		status, _ := httpGet(t, "http://"+b.Internal+"/_groupcache/covers/"+url.QueryEscape(key), hdr)
		return status
	}
	// The cover is stored by content: its variants' key names the
	// original's SHA-256, whichever book asks.
	original, err := os.ReadFile(baseline)
	if err != nil {
		t.Fatal(err)
	}
	content := cover.ContentSum(original)
	if cover.VersionOf(content) != version {
		t.Fatalf("imported version %s, want %s", version, cover.VersionOf(content))
	}
	good := "@" + content + "/320.webp"
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
		{"content key over 2048", "@" + content + "/4096.webp", withSecret, 400},
		{"content key not a hash", "@" + version + "/320.webp", withSecret, 400},
	}
	for _, c := range cases {
		if got := peer(c.key, c.hdr); got != c.want {
			t.Errorf("peer GET %s (%s) = %d, want %d", c.key, c.name, got, c.want)
		}
	}
	if n, w, k := count(b, "no_secret"), count(b, "wrong_secret"), count(b, "bad_key"); n != 1 || w != 1 || k != 9 {
		t.Errorf("refusals counted: no_secret %v, wrong_secret %v, bad_key %v; want 1, 1, 9", n, w, k)
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
