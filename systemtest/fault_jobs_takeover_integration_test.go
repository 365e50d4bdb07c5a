package systemtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/internal/replica"
	"github.com/bookcovers/image-worker/internal/testenv"
)

// TestLiveReplicaTakesOverADeadReplicasJobs: two replicas share one store.
// Jobs are posted to the first, which is SIGKILLed with most of them still
// queued or running. The second replica, never restarted, finds them in
// the open-jobs index once the dead one's lease has run out and finishes
// every one, answering for them on GET /jobs/{id}.
func TestLiveReplicaTakesOverADeadReplicasJobs(t *testing.T) {
	bin := replica.Build(t)
	origin := newOrigin(t, 400*time.Millisecond)
	data := t.TempDir()
	const lease = 2 * time.Second
	env := map[string]string{
		"DATA_DIR": data, "IMAGE_SIGNING_KEYS": testKeyHex, "KAFKA_BROKERS": "", "PRERENDER": "", "LOG_LEVEL": "warn", "SHUTDOWN_DELAY": "0s",
		"SOURCE_ALLOW_PRIVATE_HOSTS": origin.hostPort(),
		"JOB_WORKERS":                "1", "JOB_RETRY_BASE": "100ms", "JOB_RETRY_MAX": "500ms", "JOB_LEASE": lease.String(),
	}
	start := func() *replica.Replica { return replica.Start(t, bin, env) }
	doomed, survivor := start(), start()
	ids := map[string]string{}
	for i := range 8 {
		book := fmt.Sprintf("TAKE%d", i)
		ids[book] = submitJob(t, "http://"+doomed.Public, book, origin.add("/"+book+".jpg", distinctCover(t, book)))
	}
	doomed.Kill() // SIGKILL: its heartbeat stops, nothing is released
	killed := time.Now()
	if n := jobsDone(t, "http://"+survivor.Public, ids); n >= len(ids)-2 {
		t.Fatalf("%d of %d jobs done before the kill: too few left to take over", n, len(ids))
	}
	testenv.WaitFor(t, 60*time.Second, "every job of the dead replica succeeded on the live one", func() (bool, string) {
		n := jobsDone(t, "http://"+survivor.Public, ids)
		return n == len(ids), fmt.Sprintf("%d of %d succeeded", n, len(ids))
	})
	took := survivor.Metric(t, "covers_ingest_jobs_taken_over_total")
	t.Logf("all jobs done %v after the kill; %v taken over", time.Since(killed).Round(100*time.Millisecond), took)
	if took < 2 {
		t.Errorf("covers_ingest_jobs_taken_over_total on the live replica = %v, want the jobs left open (at least 2)", took)
	}
}
