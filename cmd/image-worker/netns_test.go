package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/bookcovers/image-worker/internal/testenv"
)

// TestNetNSProcessRefusesPrivateTargets submits non-loopback URLs through the
// whole HTTP stack. It runs only inside a loopback-only network namespace
// (scripts/netns-test.sh), so even a broken filter could not send a packet out.
func TestNetNSProcessRefusesPrivateTargets(t *testing.T) {
	testenv.RequireNetNS(t)
	src := newSource(t)
	svc := startService(t, localStore(t), src, map[string]string{"PROCESS_TIMEOUT_SEC": "3"})
	for _, u := range []string{
		"http://10.0.0.1/c.jpg", "http://172.16.5.4/c.jpg", "http://192.168.1.1/c.jpg",
		"http://169.254.169.254/latest/meta-data/", "http://100.64.0.1/c.jpg", "http://0.0.0.0/c.jpg",
		"http://[fd00::1]/c.jpg", "http://[fe80::1]/c.jpg", "http://[::ffff:10.0.0.1]/c.jpg",
		"http://[64:ff9b::a00:1]/c.jpg", "http://[2002:a00:1::]/c.jpg", "http://224.0.0.1/c.jpg",
		"http://255.255.255.255/c.jpg", "http://0x0a000001/c.jpg", "http://167772161/c.jpg",
	} {
		body := `{"book_id":"NS1","image_url":"` + u + `"}`
		resp, err := http.Post(svc.base+"/process", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Error struct{ Code string } }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || e.Error.Code != "blocked_address" {
			t.Errorf("POST /process %s = %d %q, want 400 blocked_address", u, resp.StatusCode, e.Error.Code)
		}
	}
	// Redirects from an allowed source into private space fail on the job.
	for i, to := range []string{"http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/x.jpg", "http://[fd12::1]/x.jpg"} {
		j := svc.waitJob(svc.process("NSR"+string(rune('a'+i)), src.redirect("/r"+string(rune('a'+i)), to), ""))
		if j.State != "failed" || j.Error == nil || j.Error.Code != "blocked_address" {
			t.Errorf("redirect to %s: job %+v, want failed blocked_address", to, j)
		}
	}
	// A public address passes the policy and then finds no route: fetch_failed, not blocked.
	j := svc.waitJob(svc.process("NSP", "http://8.8.8.8/x.jpg", ""))
	if j.State != "failed" || j.Error == nil || j.Error.Code == "blocked_address" {
		t.Errorf("public address: job %+v, want failed without blocked_address", j)
	}
}
