package systemtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/internal/faultcheck"
	"github.com/bookcovers/image-worker/internal/hostile"
	"github.com/bookcovers/image-worker/internal/replica"
	"github.com/bookcovers/image-worker/internal/testenv"
)

// shortGroupSessions makes the broker treat every consumer's session and
// rebalance timeout as 6s. A SIGKILLed member never leaves its group, and
// Kafka only evicts it when its session times out (franz-go's default is
// 45s); the behaviour is the same, the test just does not wait that long.
func shortGroupSessions(c *kfake.Cluster) {
	c.ControlKey(int16(kmsg.JoinGroup), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if jr, ok := req.(*kmsg.JoinGroupRequest); ok {
			jr.SessionTimeoutMillis = 6000
			jr.RebalanceTimeoutMillis = 6000
		}
		return nil, nil, false // not handled: the broker processes the changed request
	})
}

// TestSIGKILLDuringJobsAndEventsLosesNothing kills the real binary with
// SIGKILL while /process jobs and Kafka events are in flight (each fetch
// takes 300ms), then starts it again on the same data directory and consumer
// group: every accepted job ends succeeded, every event's book gets its
// cover, and each book has exactly one original whose version is its
// manifest's and its last result event's. No job is left queued or running.
func TestSIGKILLDuringJobsAndEventsLosesNothing(t *testing.T) {
	bin := replica.Build(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, faultcheck.Topic, faultcheck.Topic+".dlq", faultcheck.Results))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	shortGroupSessions(cluster)
	brokers := cluster.ListenAddrs()[0]
	origin := newOrigin(t, 300*time.Millisecond)
	data := t.TempDir()
	env := map[string]string{
		"DATA_DIR": data, "IMAGE_SIGNING_KEYS": testKeyHex, "KAFKA_BROKERS": brokers, "LOG_LEVEL": "warn",
		"SHUTDOWN_DELAY": "0s", "SOURCE_ALLOW_PRIVATE_HOSTS": origin.hostPort(),
		"JOB_WORKERS": "2", "KAFKA_CONCURRENCY": "2", "KAFKA_RETRY_BASE": "50ms", "KAFKA_RETRY_MAX": "500ms",
		"JOB_RETRY_BASE": "100ms", "JOB_RETRY_MAX": "500ms", "OUTBOX_RETRY_MAX": "500ms",
		// The restarted replica is a new job owner: it takes over the killed
		// one's open jobs once their lease has run out.
		"JOB_LEASE": "3s",
	}
	start := func() *replica.Replica { return replica.Start(t, bin, env) }
	first := start()

	jobBooks, eventURLs := []string{}, map[string]string{}
	var books []string
	for i := 1; i <= 10; i++ {
		jb, eb := fmt.Sprintf("KILL-J%d", i), fmt.Sprintf("KILL-E%d", i)
		jobBooks = append(jobBooks, jb)
		eventURLs[eb] = origin.add("/"+eb+".jpg", distinctCover(t, eb))
		books = append(books, jb, eb)
	}
	cl, adm := faultcheck.KafkaClient(t, brokers)
	faultcheck.ProduceCoverEvents(t, cl, eventURLs)
	jobIDs := map[string]string{}
	for _, book := range jobBooks {
		jobIDs[book] = submitJob(t, "http://"+first.Public, book, origin.add("/"+book+".jpg", distinctCover(t, book)))
	}

	store, err := cache.NewLocalStore(data)
	if err != nil {
		t.Fatal(err)
	}
	manifestsStored := func() int {
		keys, _ := store.List(context.Background(), "manifests/")
		return len(keys)
	}
	testenv.WaitFor(t, 30*time.Second, "a few jobs and events done before the kill", func() (bool, string) {
		done := jobsDone(t, "http://"+first.Public, jobIDs)
		return done >= 3 && manifestsStored() >= done+2, fmt.Sprintf("%d jobs done, %d manifests", done, manifestsStored())
	})
	first.Kill() // SIGKILL
	doneAtKill, storedAtKill := 0, manifestsStored()
	for _, id := range jobIDs {
		var j job
		if obj, err := store.Get(context.Background(), cache.JobKey(id)); err == nil && json.Unmarshal(obj.Data, &j) == nil && j.State == "succeeded" {
			doneAtKill++
		}
	}
	t.Logf("SIGKILL with %d of 10 jobs succeeded and %d of 20 books stored", doneAtKill, storedAtKill)
	if storedAtKill == len(books) {
		t.Fatalf("everything was done before the kill: nothing was in flight")
	}

	second := start()
	signer := signerOf(t, testKeyHex)
	// A write-back the killed replica had claimed for delivery waits out
	// its claim (the outbox's default ClaimTTL, 2 minutes) before the new
	// replica delivers it: the wait covers that, plus the run itself.
	testenv.WaitFor(t, 2*time.Minute+60*time.Second, "every job succeeded and every event's cover served after the restart", func() (bool, string) {
		if n := jobsDone(t, "http://"+second.Public, jobIDs); n != len(jobIDs) {
			return false, fmt.Sprintf("%d of %d jobs succeeded", n, len(jobIDs))
		}
		// Result events are published from the outbox, after the job and the commit.
		if n := faultcheck.OutboxLen(t, store); n != 0 {
			return false, fmt.Sprintf("%d write-backs still queued", n)
		}
		for book := range eventURLs {
			if !faultcheck.HasCover("http://"+second.Public, signer, book) {
				return false, book + " has no cover"
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		lag, err := faultcheck.GroupLag(ctx, adm, faultcheck.Group, faultcheck.Topic)
		return err == nil && lag == 0, fmt.Sprintf("consumer lag %d (%v)", lag, err)
	})

	faultcheck.OneOriginalPerBook(t, store, books, faultcheck.ResultVersions(t, brokers))
	// A job shows succeeded first, then its finished record is written.
	keys, err := store.List(context.Background(), cache.JobsPrefix())
	for wait := time.Now().Add(10 * time.Second); (err != nil || len(keys) != len(jobIDs)) && time.Now().Before(wait); {
		time.Sleep(50 * time.Millisecond)
		keys, err = store.List(context.Background(), cache.JobsPrefix())
	}
	if err != nil || len(keys) != len(jobIDs) {
		t.Fatalf("job records: %d (%v), want %d", len(keys), err, len(jobIDs))
	}
	for _, k := range keys {
		var j job
		obj, err := store.Get(context.Background(), k)
		if err != nil || json.Unmarshal(obj.Data, &j) != nil || j.State != "succeeded" {
			t.Errorf("job record %s = %+v (%v), want succeeded", k, j, err)
		}
	}
}

// job is what the tests read of a job record (GET /jobs/{id}, or the store's).
type job struct {
	State string `json:"state"`
}

// distinctCover is the tiny test JPEG with the book id in a comment, so
// every book has its own bytes and version.
func distinctCover(t *testing.T, book string) []byte {
	return hostile.JPEGWithComment(readTestdata(t, "cover-50x75-tiny.jpg"), "book "+book)
}

// submitJob posts a warm request to the service at base and returns its job id.
func submitJob(t *testing.T, base, book, imageURL string) string {
	t.Helper()
	body := fmt.Sprintf(`{"book_id":%q,"image_url":%q}`, book, imageURL)
	resp, err := http.Post(base+"/process", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST /process %s: %v", book, err)
	}
	defer resp.Body.Close()
	var out struct {
		JobID string `json:"job_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusAccepted || out.JobID == "" {
		t.Fatalf("POST /process %s = %d (%v), want 202 with a job id", book, resp.StatusCode, err)
	}
	return out.JobID
}

// jobsDone counts the jobs GET /jobs/{id} reports succeeded.
func jobsDone(t *testing.T, base string, ids map[string]string) int {
	n := 0
	for _, id := range ids {
		resp, err := http.Get(base + "/jobs/" + id)
		if err != nil {
			continue
		}
		var j job
		err = json.NewDecoder(resp.Body).Decode(&j)
		resp.Body.Close()
		if err == nil && j.State == "succeeded" {
			n++
		}
	}
	return n
}
