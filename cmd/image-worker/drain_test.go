package main

import (
	"fmt"
	"net/http"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMDrainsWithoutFailedRequests: a client that follows /ready sends
// a steady load to two replicas while one is terminated and restarted; not a
// single request fails, because readiness turns 503 before connections close.
func TestSIGTERMDrainsWithoutFailedRequests(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	imp := exec.Command(bin, "import", "--book", "DRAIN", "../../testdata/photo-1600x2400-baseline.jpg")
	imp.Env = []string{"DATA_DIR=" + data, "IMAGE_SIGNING_KEYS=" + testKeyHex}
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("import: %v %s", err, out)
	}
	envFor := func(pub string) map[string]string {
		return map[string]string{"DATA_DIR": data, "IMAGE_SIGNING_KEYS": testKeyHex, "KAFKA_BROKERS": "", "PRERENDER": "", "LOG_LEVEL": "warn",
			"LISTEN_ADDR": pub, "INTERNAL_ADDR": freeAddr(t), "SHUTDOWN_DELAY": "1s"}
	}
	addrs := []string{freeAddr(t), freeAddr(t)}
	reps := []*replica{startReplica(t, bin, envFor(addrs[0])), startReplica(t, bin, envFor(addrs[1]))}
	signer := startServiceSigner(t, testKeyHex)

	var ready [2]atomic.Bool
	ready[0].Store(true)
	ready[1].Store(true)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the load balancer's readiness probe, every 50ms
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			for i, a := range addrs {
				resp, err := http.Get("http://" + a + "/ready")
				ok := err == nil && resp.StatusCode == 200
				if err == nil {
					resp.Body.Close()
				}
				ready[i].Store(ok)
			}
		}
	}()
	var sent, failed atomic.Int64
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				target := -1
				for k := range 2 {
					if j := (i + w + k) % 2; ready[j].Load() {
						target = j
						break
					}
				}
				if target < 0 {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				path := fmt.Sprintf("/covers/DRAIN/%d.webp", 100+i%20)
				resp, err := http.Get("http://" + addrs[target] + path + "?sig=" + signer.Sign(path, nil))
				sent.Add(1)
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
					if err == nil {
						t.Logf("replica %d answered %d", target, resp.StatusCode)
					} else {
						t.Logf("replica %d: %v", target, err)
					}
				}
				if err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	_ = reps[0].cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- reps[0].cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("SIGTERM exit: %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("replica did not exit after SIGTERM")
	}
	reps[0] = startReplica(t, bin, envFor(addrs[0]))
	time.Sleep(700 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || sent.Load() < 100 {
		t.Errorf("%d of %d requests failed across a SIGTERM and restart, want 0 (and at least 100 sent)", failed.Load(), sent.Load())
	}
	t.Logf("%d requests, %d failed", sent.Load(), failed.Load())
}
