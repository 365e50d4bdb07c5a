package events

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	_ "image/jpeg"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestConsumeSuccessPublishesResultAndCommits(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, testTopic, testDLQ, testResult))
	cfg := testConfig(c)
	o := newOrigin(t, func(int64) int { return http.StatusOK })
	warm := newRealWarm(t, o)
	cl, adm := newClient(t, c)
	results := NewResults(cl, cfg)

	src := o.url("/covers/b1.jpg?token=secret")
	rec := event("book-1", src)
	produce(t, cl, rec)
	r := startConsumer(t, cfg, warm, results)

	waitFor(t, 15*time.Second, "offset 1 committed", func() bool { return committed(t, adm, cfg.GroupID, testTopic, 0) == 1 })
	if got := r.m.succeeded.Get(); got != 1 {
		t.Errorf("events_total{succeeded} = %d, want 1", got)
	}
	if got := results.published[stateSucceeded].Get(); got != 1 {
		t.Errorf("results_published_total{succeeded} = %d, want 1", got)
	}
	if got := o.requests.Load(); got != 1 {
		t.Errorf("origin requests = %d, want 1", got)
	}

	version := ingest.Version(o.photo)
	recs := readTopic(t, c, testResult)
	if len(recs) != 1 {
		t.Fatalf("result topic has %d records, want 1", len(recs))
	}
	if string(recs[0].Key) != "book-1" {
		t.Errorf("result key = %q, want book-1", recs[0].Key)
	}
	var got map[string]any
	if err := json.Unmarshal(recs[0].Value, &got); err != nil {
		t.Fatalf("result value %s: %v", recs[0].Value, err)
	}
	want := map[string]any{
		"book_id":             "book-1",
		"state":               "succeeded",
		"version":             version,
		"source_url":          o.url("/covers/b1.jpg"), // published without the query
		"source_url_sha256":   sha256Hex(src),
		"storage_url":         "s3://" + testBucket + "/content/" + cover.ContentSum(o.photo) + "/original", // stored once by content
		"width":               float64(1600),
		"height":              float64(2400),
		"bytes":               float64(len(o.photo)),
		"content_type":        "image/jpeg",
		"cover_path_template": "/covers/book-1/{size}.{format}?v=" + version,
		"cover_status":        "ok",
		// No enriched_at: the record's time (milliseconds) orders the cover.
		"version_time": time.UnixMilli(rec.Timestamp.UnixMilli()).UTC().Format(time.RFC3339Nano),
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("result %s = %v, want %v", k, got[k], w)
		}
	}
	at, err := time.Parse(time.RFC3339, got["processed_at"].(string))
	if err != nil || time.Since(at) > time.Minute || time.Until(at) > time.Second {
		t.Errorf("processed_at = %v (%v), want an RFC 3339 time of the last minute", got["processed_at"], err)
	}
	if len(got) != len(want)+1 {
		t.Errorf("result has fields %v, want exactly %d", got, len(want)+1)
	}
	if v := string(recs[0].Value); strings.Contains(v, "token") || strings.Contains(v, "secret") {
		t.Errorf("result event carries the source URL's query: %s", v)
	}
	// The manifest keeps the full URL: re-fetches and "same URL" need it.
	if m, err := cache.NewManifests(warm.store, time.Second, 5*time.Second).Load(context.Background(), "book-1"); err != nil || m.SourceURL != src {
		t.Errorf("stored manifest source_url = %q (%v), want %q", m.SourceURL, err, src)
	}

	// The stored original decodes to the source photo's size.
	obj, err := warm.store.Get(context.Background(), cover.ContentOriginalKey(cover.ContentSum(o.photo)))
	if err != nil {
		t.Fatalf("stored original: %v", err)
	}
	cfgImg, format, err := image.DecodeConfig(bytes.NewReader(obj.Data))
	if err != nil || format != "jpeg" || cfgImg.Width != 1600 || cfgImg.Height != 2400 {
		t.Errorf("stored original decodes to %s %dx%d (%v), want jpeg 1600x2400", format, cfgImg.Width, cfgImg.Height, err)
	}
	if dl := readTopic(t, c, testDLQ); len(dl) != 0 {
		t.Errorf("DLQ has %d records, want 0", len(dl))
	}
}

func TestConsumeSkipsEventWithoutCoverURL(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, testTopic, testDLQ))
	cfg := testConfig(c)
	cl, adm := newClient(t, c)
	warm := &fakeWarmer{}
	produce(t, cl,
		raw("", `{"book_id":"book-1"}`),
		raw("", `{"book_id":"book-2","cover_image_url":""}`),
	)
	r := startConsumer(t, cfg, warm, nil)
	waitFor(t, 15*time.Second, "offset 2 committed", func() bool { return committed(t, adm, cfg.GroupID, testTopic, 0) == 2 })
	if got := r.m.skipped.Get(); got != 2 {
		t.Errorf("events_total{skipped} = %d, want 2", got)
	}
	if got := warm.calls.Load(); got != 0 {
		t.Errorf("Warm called %d times, want 0", got)
	}
	if dl := readTopic(t, c, testDLQ); len(dl) != 0 {
		t.Errorf("DLQ has %d records, want 0", len(dl))
	}
}

func TestConsumeBadEventsGoToDLQ(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, testTopic, testDLQ))
	cfg := testConfig(c)
	cl, adm := newClient(t, c)
	warm := &fakeWarmer{}
	bad := []struct {
		name, key, value string
	}{
		{"invalid JSON", "k1", `{"book_id":`},
		{"not an object", "k2", `["book-1"]`},
		{"invalid book id", "k3", `{"book_id":"../etc","cover_image_url":"http://127.0.0.1:1/x.jpg"}`},
	}
	for _, b := range bad {
		produce(t, cl, raw(b.key, b.value))
	}
	r := startConsumer(t, cfg, warm, nil)
	waitFor(t, 15*time.Second, "offset 3 committed", func() bool { return committed(t, adm, cfg.GroupID, testTopic, 0) == 3 })

	dl := readTopic(t, c, testDLQ)
	if len(dl) != len(bad) {
		t.Fatalf("DLQ has %d records, want %d", len(dl), len(bad))
	}
	for i, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			rec := dl[i]
			if string(rec.Key) != b.key || string(rec.Value) != b.value {
				t.Errorf("DLQ record = %q/%q, want the original %q/%q", rec.Key, rec.Value, b.key, b.value)
			}
			checkDLQHeaders(t, rec, "bad_event", 1, int64(i))
		})
	}
	if got := warm.calls.Load(); got != 0 {
		t.Errorf("Warm called %d times, want 0", got)
	}
	if got := r.m.deadLetters("bad_event").Get(); got != 3 {
		t.Errorf("dead_letters_total{bad_event} = %d, want 3", got)
	}
	if got := r.m.deadLettered.Get(); got != 3 {
		t.Errorf("events_total{dead_lettered} = %d, want 3", got)
	}
}

// checkDLQHeaders checks every header of a dead letter of partition 0.
func checkDLQHeaders(t *testing.T, rec *kgo.Record, code string, attempts int, offset int64) {
	t.Helper()
	want := map[string]string{
		HeaderErrorCode:       code,
		HeaderErrorMessage:    failureMessage(code),
		HeaderAttempts:        strconv.Itoa(attempts),
		HeaderSourceTopic:     testTopic,
		HeaderSourcePartition: "0",
		HeaderSourceOffset:    strconv.Itoa(int(offset)),
	}
	for k, w := range want {
		if got := header(t, rec, k); got != w {
			t.Errorf("header %s = %q, want %q", k, got, w)
		}
	}
	if msg := header(t, rec, HeaderErrorMessage); msg == "" || strings.Contains(msg, "test:") || strings.Contains(msg, "127.0.0.1") {
		t.Errorf("error_message = %q, want the fixed public text", msg)
	}
	at, err := time.Parse(time.RFC3339Nano, header(t, rec, HeaderFailedAt))
	if err != nil || time.Since(at) > time.Minute {
		t.Errorf("failed_at = %q (%v), want an RFC 3339 time of the last minute", header(t, rec, HeaderFailedAt), err)
	}
	if orig, err := time.Parse(time.RFC3339Nano, header(t, rec, HeaderOriginalTimestamp)); err != nil || orig.After(at) || time.Since(orig) > time.Minute {
		t.Errorf("original_timestamp = %q (%v), want the source record's time, before failed_at", header(t, rec, HeaderOriginalTimestamp), err)
	}
}
