package systemtest

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/internal/loadloop"
	"github.com/bookcovers/image-worker/internal/replica"
)

// TestSIGTERMDrainsWithoutFailedRequests: a client that follows /ready sends
// a steady load to two replicas while one is terminated and restarted; not a
// single request fails, because readiness turns 503 before connections close.
func TestSIGTERMDrainsWithoutFailedRequests(t *testing.T) {
	bin := replica.Build(t)
	data, _ := importLocal(t, bin, "DRAIN")
	envFor := func(pub string) map[string]string {
		return map[string]string{"DATA_DIR": data, "IMAGE_SIGNING_KEYS": testKeyHex, "KAFKA_BROKERS": "", "PRERENDER": "", "LOG_LEVEL": "warn",
			"LISTEN_ADDR": pub, "SHUTDOWN_DELAY": "1s"}
	}
	addrs := []string{replica.FreeAddr(t), replica.FreeAddr(t)}
	reps := []*replica.Replica{replica.Start(t, bin, envFor(addrs[0])), replica.Start(t, bin, envFor(addrs[1]))}
	signer := signerOf(t, testKeyHex)

	var ready [2]atomic.Bool
	ready[0].Store(true)
	ready[1].Store(true)
	// The load balancer's readiness probe, every 50ms.
	probe := loadloop.Start(loadloop.Config{Workers: 1, Pause: 50 * time.Millisecond}, func(loadloop.Call) string {
		for i, a := range addrs {
			resp, err := http.Get("http://" + a + "/ready")
			ok := err == nil && resp.StatusCode == 200
			if err == nil {
				resp.Body.Close()
			}
			ready[i].Store(ok)
		}
		return ""
	})
	load := loadloop.Start(loadloop.Config{Workers: 4}, func(c loadloop.Call) string {
		target := -1
		for k := range 2 {
			if j := (c.Iter + c.Worker + k) % 2; ready[j].Load() {
				target = j
				break
			}
		}
		if target < 0 {
			time.Sleep(10 * time.Millisecond)
			return ""
		}
		path := fmt.Sprintf("/covers/DRAIN/%d.webp", 100+c.Iter%20)
		resp, err := http.Get("http://" + addrs[target] + path + "?sig=" + signer.Sign(path, nil))
		if err != nil {
			t.Logf("replica %d: %v", target, err)
			return "failed"
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Logf("replica %d answered %d", target, resp.StatusCode)
			return "failed"
		}
		return "ok"
	})
	t.Cleanup(func() { load.Stop(); probe.Stop() }) // before the replicas are killed, should the test fail first
	time.Sleep(700 * time.Millisecond)
	exited, err := reps[0].Terminate(40 * time.Second)
	if !exited {
		t.Fatal("replica did not exit after SIGTERM")
	}
	if err != nil {
		t.Errorf("SIGTERM exit: %v", err)
	}
	reps[0] = replica.Start(t, bin, envFor(addrs[0]))
	time.Sleep(700 * time.Millisecond)
	counts := load.Stop()
	probe.Stop()
	sent, failed := counts.Sum(), counts["failed"]
	if failed != 0 || sent < 100 {
		t.Errorf("%d of %d requests failed across a SIGTERM and restart, want 0 (and at least 100 sent)", failed, sent)
	}
	t.Logf("%d requests, %d failed", sent, failed)
}
