package events

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Cancelling Run while a record is warming lets it finish, commits it, takes
// no further record and leaves the group; the next consumer of the group
// starts after the committed offset.
func TestConsumeGracefulShutdownCommitsInFlight(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, testTopic, testDLQ))
	cfg := testConfig(c)
	cl, adm := newClient(t, c)
	started, proceed := make(chan struct{}), make(chan struct{})
	warm := &fakeWarmer{fn: func(_ context.Context, bookID, url string) (cover.Manifest, error) {
		close(started)
		<-proceed // the consumer's shutdown must not cancel in-flight work within the grace period
		return cover.Manifest{BookID: bookID, Version: "v1", SourceURL: url}, nil
	}}
	outcomes := &recordingOutcomes{}
	produce(t, cl, event("slow-0", "http://127.0.0.1:9/a.jpg"), event("next-1", "http://127.0.0.1:9/b.jpg"))
	r := startConsumer(t, cfg, warm, outcomes)

	<-started
	r.cancel()
	time.Sleep(50 * time.Millisecond) // let the stop reach the partition while the warm is in flight
	close(proceed)
	r.stop(t)

	if got := committed(t, adm, cfg.GroupID, testTopic, 0); got != 1 {
		t.Errorf("committed offset after shutdown = %d, want 1 (the in-flight record, not the next)", got)
	}
	if got := outcomes.books(); !slices.Equal(got, []string{"slow-0"}) {
		t.Errorf("outcomes = %v, want [slow-0]", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	groups, err := adm.DescribeGroups(ctx, cfg.GroupID)
	if err != nil {
		t.Fatalf("describe group: %v", err)
	}
	if g := groups[cfg.GroupID]; len(g.Members) != 0 {
		t.Errorf("group %s has %d members after shutdown (state %s), want 0: the group was left", cfg.GroupID, len(g.Members), g.State)
	}

	next := &recordingOutcomes{}
	startConsumer(t, cfg, &fakeWarmer{}, next)
	waitFor(t, 15*time.Second, "offset 2 committed", func() bool { return committed(t, adm, cfg.GroupID, testTopic, 0) == 2 })
	if got := next.books(); !slices.Equal(got, []string{"next-1"}) {
		t.Errorf("the next consumer processed %v, want only [next-1]", got)
	}
}

// A warm that outlives the grace period is abandoned: not committed, counted
// as failed, and Run still returns.
func TestConsumeShutdownAbandonsAfterGrace(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, testTopic, testDLQ))
	cfg := testConfig(c)
	cfg.ShutdownGrace = 200 * time.Millisecond
	cl, adm := newClient(t, c)
	started := make(chan struct{})
	warm := &fakeWarmer{fn: func(ctx context.Context, _, _ string) (cover.Manifest, error) {
		close(started)
		<-ctx.Done()
		return cover.Manifest{}, ctx.Err()
	}}
	produce(t, cl, event("stuck-0", "http://127.0.0.1:9/a.jpg"))
	r := startConsumer(t, cfg, warm, nil)
	<-started
	begin := time.Now()
	r.stop(t)
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("Run took %s to return after cancel, want about the 200ms grace", d)
	}
	if got := committed(t, adm, cfg.GroupID, testTopic, 0); got != -1 {
		t.Errorf("committed offset = %d, want none (-1): the abandoned record is redelivered", got)
	}
	if got := r.m.failed.Get(); got != 1 {
		t.Errorf("events_total{failed} = %d, want 1", got)
	}
	if got := len(readTopic(t, c, testDLQ)); got != 0 {
		t.Errorf("DLQ records = %d, want 0", got)
	}
}

// A crash between work and commit (simulated by a broker that refuses every
// offset commit, then a restart) redelivers the record; warming it again
// downloads nothing and stores nothing new, and the result event is at most
// duplicated.
func TestConsumeCrashBeforeCommitRedeliversWithoutDuplicates(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, testTopic, testDLQ, testResult))
	var refuseCommits atomic.Bool
	refuseCommits.Store(true)
	c.ControlKey(int16(kmsg.OffsetCommit), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !refuseCommits.Load() {
			return nil, nil, false
		}
		req := kreq.(*kmsg.OffsetCommitRequest)
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		resp.Version = req.Version
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	cfg := testConfig(c)
	o := newOrigin(t, func(int64) int { return 200 })
	warm := newRealWarm(t, o)
	cl, adm := newClient(t, c)
	results := NewResults(cl, cfg)
	produce(t, cl, event("book-1", o.url("/b1.jpg")))

	first := startConsumer(t, cfg, warm, results)
	waitFor(t, 15*time.Second, "a refused commit", func() bool { return first.m.commitErrors.Get() >= 1 })
	first.stop(t)
	if got := committed(t, adm, cfg.GroupID, testTopic, 0); got != -1 {
		t.Fatalf("committed offset = %d after the 'crash', want none (-1)", got)
	}

	refuseCommits.Store(false)
	second := startConsumer(t, cfg, warm, results)
	waitFor(t, 15*time.Second, "offset 1 committed", func() bool { return committed(t, adm, cfg.GroupID, testTopic, 0) == 1 })

	if got := second.m.succeeded.Get(); got != 1 {
		t.Errorf("second consumer events_total{succeeded} = %d, want 1 (the redelivered record)", got)
	}
	if got := o.requests.Load(); got != 1 {
		t.Errorf("origin requests = %d, want 1: redelivery must not download again", got)
	}
	keys, err := warm.store.List(context.Background(), "content/")
	if err != nil || len(keys) != 2 || keys[0] != cover.ContentInfoKey(cover.ContentSum(o.photo)) || keys[1] != cover.ContentOriginalKey(cover.ContentSum(o.photo)) {
		t.Errorf("stored by content = %v (%v), want exactly one original and its check", keys, err)
	}
	res := readTopic(t, c, testResult)
	if len(res) != 2 {
		t.Fatalf("result events = %d, want 2 (at-least-once: one per delivery)", len(res))
	}
	if string(res[0].Value) != string(res[1].Value) {
		t.Errorf("the duplicate result differs:\n%s\n%s", res[0].Value, res[1].Value)
	}
}
