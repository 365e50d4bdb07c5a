package events

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestConsumePanicFailsOnlyThatEvent: an event whose warm panics is
// dead-lettered once with code "internal" (not retried, not committed
// before it is in the DLQ), the consumer goes on, the next event is warmed,
// and the panic is counted.
func TestConsumePanicFailsOnlyThatEvent(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, testTopic, testDLQ, testResult))
	cfg := testConfig(c)
	cfg.MaxAttempts = 3
	cl, adm := newClient(t, c)
	warm := &fakeWarmer{fn: func(_ context.Context, bookID, url string) (cover.Manifest, error) {
		if bookID == "boom" {
			panic("warm bug")
		}
		return cover.Manifest{BookID: bookID, Version: "v1", SourceURL: url}, nil
	}}
	outcomes := &recordingOutcomes{}
	produce(t, cl, event("boom", "https://covers.example/boom.jpg"), event("fine", "https://covers.example/fine.jpg"))
	r := startConsumer(t, cfg, warm, outcomes)

	waitFor(t, 15*time.Second, "offset 2 committed", func() bool { return committed(t, adm, cfg.GroupID, testTopic, 0) == 2 })
	dlq := readTopic(t, c, testDLQ)
	if len(dlq) != 1 || string(dlq[0].Key) != "boom" || header(t, dlq[0], "error_code") != "internal" {
		t.Fatalf("DLQ = %d records (%s); want one for boom with error_code internal", len(dlq), keyOf(dlq))
	}
	if got := warm.calls.Load(); got != 2 {
		t.Errorf("warm calls = %d; want 2 (the panic is not retried)", got)
	}
	if books := outcomes.books(); len(books) != 1 || books[0] != "fine" {
		t.Errorf("outcomes = %v; want [fine]", books)
	}
	var sb strings.Builder
	r.m.set.WritePrometheus(&sb)
	if !strings.Contains(sb.String(), `covers_panics_total{component="kafka_consumer"} 1`) {
		t.Errorf("panic not counted:\n%s", sb.String())
	}
}
