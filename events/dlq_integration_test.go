package events

import (
	"context"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
	"github.com/twmb/franz-go/pkg/kfake"
)

// The DLQ topic does not exist (and the broker does not auto-create it): the
// failed record is neither dropped nor committed, its partition waits, and
// once the topic exists the record lands there and is committed.
func TestConsumeDLQUnavailableDoesNotCommit(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, testTopic))
	cfg := testConfig(c)
	cl, adm := newClient(t, c)
	warm := &fakeWarmer{fn: func(_ context.Context, bookID, url string) (cover.Manifest, error) {
		if bookID == "bad-1" {
			return cover.Manifest{}, errPermanent
		}
		return cover.Manifest{BookID: bookID, Version: "v1", SourceURL: url}, nil
	}}
	produce(t, cl, event("bad-1", "http://127.0.0.1:9/a.jpg"), event("good-2", "http://127.0.0.1:9/b.jpg"))
	r := startConsumer(t, cfg, warm, nil)

	waitFor(t, 20*time.Second, "3 failed DLQ writes", func() bool { return r.m.dlqWriteErrors.Get() >= 3 })
	if got := committed(t, adm, cfg.GroupID, testTopic, 0); got != -1 {
		t.Fatalf("committed offset = %d while the DLQ is unavailable, want none (-1)", got)
	}
	if got := warm.calls.Load(); got != 1 {
		t.Errorf("Warm calls = %d while the first record waits for the DLQ, want 1 (order kept)", got)
	}
	if got := r.m.deadLettered.Get(); got != 0 {
		t.Errorf("events_total{dead_lettered} = %d, want 0", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, testDLQ); err != nil {
		t.Fatalf("create DLQ topic: %v", err)
	}
	waitFor(t, 20*time.Second, "offset 2 committed", func() bool { return committed(t, adm, cfg.GroupID, testTopic, 0) == 2 })
	dl := readTopic(t, c, testDLQ)
	if len(dl) != 1 {
		t.Fatalf("DLQ records = %d, want 1", len(dl))
	}
	checkDLQHeaders(t, dl[0], "not_an_image", 1, 0)
	if got := warm.calls.Load(); got != 2 {
		t.Errorf("Warm calls = %d, want 2 (the failed record is not warmed again)", got)
	}
	if got := r.m.succeeded.Get(); got != 1 {
		t.Errorf("events_total{succeeded} = %d, want 1", got)
	}
}
