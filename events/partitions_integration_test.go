package events

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// One partition stuck in backoff does not stall the other, even with a single
// warm slot: the slot is released while a record sleeps. Order holds within
// the stuck partition.
func TestConsumeRetryingPartitionDoesNotStallOthers(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(2, testTopic, testDLQ))
	cfg := testConfig(c)
	cfg.Concurrency = 1
	cfg.MaxAttempts = 1000
	cfg.RetryBase, cfg.RetryMax = 100*time.Millisecond, 100*time.Millisecond
	cl, adm := newClient(t, c, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var stuckCalls, afterStuckCalls atomic.Int64
	warm := &fakeWarmer{fn: func(_ context.Context, bookID, url string) (cover.Manifest, error) {
		switch bookID {
		case "stuck-a":
			stuckCalls.Add(1)
			return cover.Manifest{}, errPassing
		case "after-stuck-a":
			afterStuckCalls.Add(1)
		}
		return cover.Manifest{BookID: bookID, Version: "v1", SourceURL: url}, nil
	}}
	outcomes := &recordingOutcomes{}
	on := func(p int32, r *kgo.Record) *kgo.Record { r.Partition = p; return r }
	produce(t, cl, on(0, event("stuck-a", "http://127.0.0.1:9/a.jpg")), on(0, event("after-stuck-a", "http://127.0.0.1:9/b.jpg")))
	r := startConsumer(t, cfg, warm, outcomes)
	waitFor(t, 15*time.Second, "partition 0 retrying", func() bool { return stuckCalls.Load() >= 2 })

	produce(t, cl, on(1, event("b-0", "http://127.0.0.1:9/0.jpg")), on(1, event("b-1", "http://127.0.0.1:9/1.jpg")), on(1, event("b-2", "http://127.0.0.1:9/2.jpg")))
	waitFor(t, 15*time.Second, "partition 1 committed to 3", func() bool { return committed(t, adm, cfg.GroupID, testTopic, 1) == 3 })

	if got := outcomes.books(); !slices.Equal(got, []string{"b-0", "b-1", "b-2"}) {
		t.Errorf("succeeded books = %v, want [b-0 b-1 b-2] in order", got)
	}
	if got := committed(t, adm, cfg.GroupID, testTopic, 0); got != -1 {
		t.Errorf("partition 0 committed = %d while its first record retries, want none (-1)", got)
	}
	if got := afterStuckCalls.Load(); got != 0 {
		t.Errorf("the record after the retrying one was warmed %d times, want 0 (order within a partition)", got)
	}
	calls := stuckCalls.Load()
	waitFor(t, 5*time.Second, "partition 0 still retrying", func() bool { return stuckCalls.Load() > calls })
	if got := r.m.deadLettered.Get(); got != 0 {
		t.Errorf("events_total{dead_lettered} = %d, want 0", got)
	}
}

// covers_kafka_lag_records shows the records not yet committed and drops to
// zero once the consumer has caught up.
func TestConsumeLagGoesToZero(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, testTopic, testDLQ))
	cfg := testConfig(c)
	cl, adm := newClient(t, c)
	release := make(chan struct{})
	warm := &fakeWarmer{fn: func(ctx context.Context, bookID, url string) (cover.Manifest, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return cover.Manifest{}, ctx.Err()
		}
		return cover.Manifest{BookID: bookID, Version: "v1", SourceURL: url}, nil
	}}
	for i := range 3 {
		produce(t, cl, event("book-"+string(rune('a'+i)), "http://127.0.0.1:9/c.jpg"))
	}
	r := startConsumer(t, cfg, warm, nil)
	lag := r.m.lag(0)
	waitFor(t, 15*time.Second, "lag 3 while the first record is held", func() bool { return lag.Get() == 3 })
	close(release)
	waitFor(t, 15*time.Second, "lag 0 after catching up", func() bool { return lag.Get() == 0 })
	if got := committed(t, adm, cfg.GroupID, testTopic, 0); got != 3 {
		t.Errorf("committed = %d, want 3", got)
	}
	var sb strings.Builder
	r.Metrics().WritePrometheus(&sb)
	if !strings.Contains(sb.String(), `covers_kafka_lag_records{partition="0"} 0`) {
		t.Errorf("exported metrics lack covers_kafka_lag_records{partition=\"0\"} 0:\n%s", sb.String())
	}
}

// More records than one partition queues pause and resume its fetching;
// every record is processed once, in order, and committed.
func TestConsumeLongPartitionPausesAndResumes(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, testTopic, testDLQ))
	cfg := testConfig(c)
	cl, adm := newClient(t, c)
	const n = maxQueued + maxQueued/2
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = event(fmt.Sprintf("book-%04d", i), "http://127.0.0.1:9/c.jpg")
	}
	produce(t, cl, recs...)
	outcomes := &recordingOutcomes{}
	release := make(chan struct{})
	warm := &fakeWarmer{fn: func(_ context.Context, bookID, url string) (cover.Manifest, error) {
		<-release // hold the first record until the queue is full
		return cover.Manifest{BookID: bookID, Version: "v1", SourceURL: url}, nil
	}}
	r := startConsumer(t, cfg, warm, outcomes)
	paused := func() bool { return len(r.cl.PauseFetchPartitions(nil)[testTopic]) == 1 }
	waitFor(t, 15*time.Second, "partition paused with a full queue", paused)
	close(release)
	waitFor(t, 60*time.Second, fmt.Sprintf("offset %d committed", n), func() bool { return committed(t, adm, cfg.GroupID, testTopic, 0) == n })
	if paused() {
		t.Errorf("partition still paused after its queue drained")
	}
	got := outcomes.books()
	if len(got) != n || !slices.IsSorted(got) {
		t.Errorf("processed %d books (sorted %v), want %d in order", len(got), slices.IsSorted(got), n)
	}
	if s := r.m.succeeded.Get(); s != n {
		t.Errorf("events_total{succeeded} = %d, want %d", s, n)
	}
}

func TestConsumerPing(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, testTopic))
	r := startConsumer(t, testConfig(c), &fakeWarmer{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Ping(ctx); err != nil {
		t.Errorf("Ping with the broker up = %v, want nil", err)
	}
	c.Close()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	if err := r.Ping(ctx2); err == nil {
		t.Errorf("Ping with the broker down = nil, want an error")
	}
}
