package events

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// seedDLQ writes dead letters k0/v0... with the given timestamps and DLQ
// headers; each source record arrived a minute before it failed (srcTime).
func seedDLQ(t *testing.T, cl *kgo.Client, stamps ...time.Time) {
	t.Helper()
	for i, ts := range stamps {
		src := &kgo.Record{Topic: testTopic, Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i)),
			Offset: int64(i), Timestamp: srcTime(ts)}
		dl := deadLetterRecord(testDLQ, src, "fetch_failed", 5, ts)
		dl.Timestamp = ts
		produce(t, cl, dl)
	}
}

func srcTime(failed time.Time) time.Time { return failed.Add(-time.Minute) }

func TestRedrive(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, testTopic, testDLQ))
	cfg := testConfig(c)
	cl, _ := newClient(t, c)
	now := time.Now()
	stamps := []time.Time{now.Add(-3 * time.Hour), now.Add(-150 * time.Minute), now.Add(-2 * time.Hour), now.Add(-time.Minute), now.Add(-30 * time.Second)}
	seedDLQ(t, cl, stamps...)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runs := []struct {
		name string
		opts RedriveOptions
		want int
	}{
		{"bounded by count", RedriveOptions{Max: 2}, 2},
		{"bounded by time", RedriveOptions{Until: now.Add(-time.Hour)}, 1},
		{"the rest", RedriveOptions{}, 2},
		{"re-run redrives nothing", RedriveOptions{}, 0},
		{"another group from a time on", RedriveOptions{GroupID: "other", Since: now.Add(-90 * time.Minute)}, 2},
	}
	for _, run := range runs {
		got, err := Redrive(ctx, cfg, run.opts, discard, testOpts()...)
		if err != nil || got != run.want {
			t.Fatalf("%s: Redrive(%+v) = %d, %v; want %d, nil", run.name, run.opts, got, err, run.want)
		}
	}

	main := readTopic(t, c, testTopic)
	var values []string
	for _, r := range main {
		values = append(values, string(r.Value))
		if want := "k" + string(r.Value[1:]); string(r.Key) != want {
			t.Errorf("redriven record %s has key %q, want %q", r.Value, r.Key, want)
		}
		// The DLQ headers are dropped; the time the event first arrived stays.
		i := int(r.Value[1] - '0')
		wantH := []kgo.RecordHeader{{Key: HeaderOriginalTimestamp, Value: []byte(srcTime(stamps[i]).UTC().Format(time.RFC3339Nano))}}
		if !slices.EqualFunc(r.Headers, wantH, func(a, b kgo.RecordHeader) bool { return a.Key == b.Key && string(a.Value) == string(b.Value) }) {
			t.Errorf("redriven record %s has headers %v, want only %s=%s", r.Value, r.Headers, wantH[0].Key, wantH[0].Value)
		}
	}
	if want := []string{"v0", "v1", "v2", "v3", "v4", "v3", "v4"}; !slices.Equal(values, want) {
		t.Errorf("main topic values = %v, want %v", values, want)
	}
	if got := len(readTopic(t, c, testDLQ)); got != 5 {
		t.Errorf("DLQ records = %d, want 5 (redrive copies, it does not delete)", got)
	}
}

// Redriven records are consumed like new events.
func TestRedriveFeedsTheConsumer(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, testTopic, testDLQ))
	cfg := testConfig(c)
	cl, adm := newClient(t, c)
	dl := deadLetterRecord(testDLQ, event("book-1", "http://127.0.0.1:9/a.jpg"), "timeout", 5, time.Now())
	produce(t, cl, dl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if n, err := Redrive(ctx, cfg, RedriveOptions{}, discard, testOpts()...); n != 1 || err != nil {
		t.Fatalf("Redrive = %d, %v; want 1, nil", n, err)
	}
	outcomes := &recordingOutcomes{}
	startConsumer(t, cfg, &fakeWarmer{}, outcomes)
	waitFor(t, 15*time.Second, "offset 1 committed", func() bool { return committed(t, adm, cfg.GroupID, testTopic, 0) == 1 })
	if got := outcomes.books(); !slices.Equal(got, []string{"book-1"}) {
		t.Errorf("warmed books = %v, want [book-1]", got)
	}
}
