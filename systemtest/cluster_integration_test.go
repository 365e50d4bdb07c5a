package systemtest

import (
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/internal/loadloop"
	"github.com/bookcovers/image-worker/internal/replica"
	"github.com/bookcovers/image-worker/internal/testenv"
)

// TestClusterOfThreeProcesses runs three real image-worker processes on one
// real MinIO as groupcache peers: a replica that starts later joins, a
// variant requested through all three renders once cluster-wide, variants
// spread across owners, and killing a replica mid-load fails no request on
// the other two.
func TestClusterOfThreeProcesses(t *testing.T) {
	s3 := testenv.MinIO(t)
	bin := replica.Build(t)
	env := map[string]string{
		"S3_ENDPOINT": s3.Endpoint, "S3_ACCESS_KEY": s3.AccessKey, "S3_SECRET_KEY": s3.SecretKey,
		"IMAGE_STORAGE_BUCKET": "covers-e2e-" + strings.ToLower(rand.Text()), "IMAGE_SIGNING_KEYS": testKeyHex, "KAFKA_BROKERS": "", "PRERENDER": "",
		// A generous peer timeout: a replica that just joined starts its
		// render workers on its first render, slow on a loaded 2-core test
		// machine, and a timed-out peer is bypassed (rendered locally).
		"LOG_LEVEL": "warn", "GROUPCACHE_PEER_TIMEOUT": "10s",
		// Peer requests carry it: were it not sent, every peer would refuse
		// (403) and each replica render for itself, and the one-render
		// assertions below would fail.
		"PEER_SECRET": "cluster-peer-secret-0123456789",
	}
	replica.Import(t, bin, env, "CL1", baseline)
	internals := []string{replica.FreeAddr(t), replica.FreeAddr(t), replica.FreeAddr(t)}
	var peers []string
	for _, a := range internals {
		peers = append(peers, "http://"+a)
	}
	start := func(i int) *replica.Replica {
		return replica.Start(t, bin, env, map[string]string{"INTERNAL_ADDR": internals[i],
			"GROUPCACHE_SELF": peers[i], "GROUPCACHE_PEERS": strings.Join(peers, ",")})
	}
	get := signedGetter(t)
	renders := func(reps ...*replica.Replica) []float64 {
		out := make([]float64, len(reps))
		for i, r := range reps {
			out[i] = r.Metric(t, `covers_transform_renders_total{format="webp",result="ok"}`)
		}
		return out
	}
	sum := func(v []float64) (s float64) {
		for _, x := range v {
			s += x
		}
		return s
	}

	// Two replicas up, the third listed but not started: its keys are bypassed.
	r1, r2 := start(0), start(1)
	for i := range 6 {
		if code := get([]*replica.Replica{r1, r2}[i%2], fmt.Sprintf("/covers/CL1/%d.webp", 100+i)); code != 200 {
			t.Fatalf("with a listed peer down: status %d", code)
		}
	}
	// The third replica joins.
	r3 := start(2)
	reps := []*replica.Replica{r1, r2, r3}
	before := renders(reps...)
	for i := range 12 {
		if code := get(reps[i%2], fmt.Sprintf("/covers/CL1/%d.webp", 200+i)); code != 200 {
			t.Fatalf("after join: status %d", code)
		}
	}
	after := renders(reps...)
	perReplica := []float64{after[0] - before[0], after[1] - before[1], after[2] - before[2]}
	if sum(perReplica) != 12 || perReplica[2] == 0 {
		t.Errorf("12 new variants via replicas 1 and 2: renders per replica %v, want 12 in total with some on the joined replica 3", perReplica)
	}
	owners := 0
	for _, n := range perReplica {
		if n > 0 {
			owners++
		}
	}
	fmt.Printf("cluster: 12 variants rendered once each, spread over the replicas as %v (owners: %d of 3)\n", perReplica, owners)
	served := 0.0
	for i, r := range reps {
		served += r.Metric(t, `covers_cache_peer_requests_total{result="served"}`)
		for _, refused := range []string{"no_secret", "wrong_secret", "bad_key"} {
			if n := r.Metric(t, `covers_cache_peer_requests_total{result="`+refused+`"}`); n != 0 {
				t.Errorf("replica %d refused %v peer requests (%s), want 0: peers send PEER_SECRET and public keys only", i+1, n, refused)
			}
		}
	}
	if served == 0 {
		t.Error("no peer request was served with PEER_SECRET set")
	}

	// One variant, 3 x 30 concurrent requests: one render cluster-wide.
	before = renders(reps...)
	counts := loadloop.Run(loadloop.Config{Workers: 90, Each: 1}, func(c loadloop.Call) string {
		if get(reps[c.Worker%3], "/covers/CL1/333x500.webp") != 200 {
			return "bad"
		}
		return "ok"
	})
	bad := counts["bad"]
	if got := sum(renders(reps...)) - sum(before); got != 1 || bad != 0 {
		t.Errorf("3 x 30 concurrent requests for one variant: %v renders, %d non-200; want 1 and 0", got, bad)
	}
	fmt.Printf("cluster: 90 concurrent requests for one variant over 3 replicas -> %v render(s)\n", sum(renders(reps...))-sum(before))

	// Kill replica 3 mid-load: the survivors answer every request.
	load := loadloop.Start(loadloop.Config{Workers: 8}, func(c loadloop.Call) string {
		if code := get(reps[c.Worker%2], fmt.Sprintf("/covers/CL1/%d.webp", 200+(c.Iter+c.Worker)%24)); code != 200 {
			return "failed"
		}
		return "ok"
	})
	time.Sleep(500 * time.Millisecond)
	r3.Kill()
	time.Sleep(1500 * time.Millisecond)
	counts = load.Stop()
	total, failed := counts.Sum(), counts["failed"]
	if failed != 0 || total < 50 {
		t.Errorf("killing replica 3 mid-load: %d of %d requests to the survivors failed; want 0 (and at least 50 requests)", failed, total)
	}
	fmt.Printf("cluster: replica killed mid-load, survivors answered %d requests, %d failed\n", total, failed)
}
