package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
	"github.com/bookcovers/image-worker/signing"
)

const (
	faultTopic   = "book_enriched"
	faultResults = "book_cover_ready"
	faultGroup   = "image-worker"
)

// startPersistentKafka starts a one-broker kfake cluster on a fixed loopback
// port that keeps topics, records and group offsets in dir (fsync on every
// batch), so a cluster started again on the same port and dir is the same
// broker after a restart.
func startPersistentKafka(t *testing.T, port int, dir string) *kfake.Cluster {
	t.Helper()
	var (
		c   *kfake.Cluster
		err error
	)
	for range 50 { // the port of a cluster just closed may take a moment to free
		c, err = kfake.NewCluster(kfake.Ports(port), kfake.DataDir(dir), kfake.SyncWrites(),
			kfake.SeedTopics(2, faultTopic, faultTopic+".dlq", faultResults))
		if err == nil {
			t.Cleanup(c.Close)
			return c
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("kfake on port %d: %v", port, err)
	return nil
}

// kafkaTestClient is a producer, reader and admin client of the broker at addr.
func kafkaTestClient(t *testing.T, addr string) (*kgo.Client, *kadm.Client) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl, kadm.NewClient(cl)
}

// produceCoverEvents writes one book_enriched event per book, synchronously.
func produceCoverEvents(t *testing.T, cl *kgo.Client, urls map[string]string) {
	t.Helper()
	var recs []*kgo.Record
	for book, u := range urls {
		v := `{"book_id":` + strconv.Quote(book) + `,"cover_image_url":` + strconv.Quote(u) + `}`
		recs = append(recs, &kgo.Record{Topic: faultTopic, Key: []byte(book), Value: []byte(v)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce %d events: %v", len(recs), err)
	}
}

// groupLag is the end offsets of the topic minus the group's commits, summed.
func groupLag(ctx context.Context, adm *kadm.Client, group, topic string) (int64, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, err
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return 0, err
	}
	var lag int64
	ends.Each(func(o kadm.ListedOffset) {
		c, ok := committed.Lookup(topic, o.Partition)
		if !ok || c.At < 0 {
			lag += o.Offset
			return
		}
		lag += o.Offset - c.At
	})
	return lag, nil
}

// waitFor polls cond every 100ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (last: %s)", what, timeout, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// hasCover reports whether GET answers the real cover (not a placeholder).
func hasCover(t *testing.T, base string, signer *signing.Signer, book string) bool {
	path := "/covers/" + book + "/64.webp"
	resp, err := http.Get(base + path + "?sig=" + signer.Sign(path, nil))
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200 && resp.Header.Get("X-Cover-Placeholder") == ""
}

// resultVersions reads book_cover_ready from the start: the versions of the
// succeeded results of each book, in order.
func resultVersions(t *testing.T, addr string) map[string][]string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(faultResults),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, faultResults)
	if err != nil || ends.Error() != nil {
		t.Fatalf("end offsets of %s: %v %v", faultResults, err, ends.Error())
	}
	want := int64(0)
	ends.Each(func(o kadm.ListedOffset) { want += o.Offset })
	out := map[string][]string{}
	for got := int64(0); got < want; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: %d of %d records", faultResults, got, want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got++
			var ev struct {
				BookID  string `json:"book_id"`
				State   string `json:"state"`
				Version string `json:"version"`
			}
			if json.Unmarshal(r.Value, &ev) == nil && ev.State == "succeeded" {
				out[ev.BookID] = append(out[ev.BookID], ev.Version)
			}
		})
	}
	return out
}

// checkOneOriginalPerBook wants exactly one stored original per book, whose
// version is the manifest's and the book's last result event's.
func checkOneOriginalPerBook(t *testing.T, store cache.Store, books []string, results map[string][]string) {
	t.Helper()
	ctx := context.Background()
	manifests := cache.NewManifests(store, time.Millisecond, 5*time.Second)
	for _, book := range books {
		keys, err := store.List(ctx, "originals/"+book+"/")
		m, merr := manifests.Load(ctx, book)
		switch {
		case err != nil || merr != nil:
			t.Errorf("%s: list originals: %v; manifest: %v", book, err, merr)
		case len(keys) != 1 || keys[0] != cover.OriginalKey(book, m.Version):
			t.Errorf("%s: originals %v, manifest version %s; want exactly that one original", book, keys, m.Version)
		case len(results[book]) == 0 || results[book][len(results[book])-1] != m.Version:
			t.Errorf("%s: result event versions %v, manifest %s; want the last result to name the manifest's version", book, results[book], m.Version)
		default:
			obj, err := store.Get(ctx, keys[0])
			if err != nil || ingest.Version(obj.Data) != m.Version {
				t.Errorf("%s: stored original does not hash to its version %s (%v)", book, m.Version, err)
			}
		}
	}
}

// distinctCover is the tiny test JPEG with the book id in a comment, so
// every book has its own bytes and version.
func distinctCover(t *testing.T, book string) []byte {
	return jpegWithComment(readTestdata(t, "cover-50x75-tiny.jpg"), "book "+book)
}

// TestKafkaBrokerStoppedAndRestarted stops the broker while events are being
// processed and starts it again on the same port and data: HTTP keeps
// serving throughout (/ready says Kafka is down), the consumer reconnects
// and resumes from the committed offsets (events finished before the stop
// are not processed again: one result event each), and every event before,
// during and after the outage ends with exactly one original per book,
// matching manifest and result event.
func TestKafkaBrokerStoppedAndRestarted(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	dir := t.TempDir()
	cluster := startPersistentKafka(t, port, dir)

	src := newSource(t)
	svc := startService(t, localStore(t), src, map[string]string{
		"KAFKA_BROKERS": addr, "KAFKA_RETRY_BASE": "50ms", "KAFKA_RETRY_MAX": "500ms",
		"KAFKA_MAX_ATTEMPTS": "1000", "KAFKA_LAG_INTERVAL": "200ms", "MANIFEST_TTL": "1h",
		"OUTBOX_RETRY_MAX": "500ms",
	})
	urls := func(prefix string, n int) map[string]string {
		m := map[string]string{}
		for i := 1; i <= n; i++ {
			book := fmt.Sprintf("%s%d", prefix, i)
			m[book] = src.add("/"+book+".jpg", distinctCover(t, book))
		}
		return m
	}
	before, during, after := urls("KB-A", 5), urls("KB-B", 3), urls("KB-C", 3)
	var all []string
	for _, set := range []map[string]string{before, during, after} {
		for book := range set {
			all = append(all, book)
		}
	}

	// Before: processed and committed.
	cl, adm := kafkaTestClient(t, addr)
	produceCoverEvents(t, cl, before)
	waitFor(t, 30*time.Second, "events before the outage processed and committed", func() (bool, string) {
		for book := range before {
			if !hasCover(t, svc.base, svc.signer, book) {
				return false, book + " has no cover"
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		lag, err := groupLag(ctx, adm, faultGroup, faultTopic)
		return err == nil && lag == 0, fmt.Sprintf("lag %d (%v)", lag, err)
	})

	// During: fetches held at the origin while the broker goes away.
	release := make(chan struct{})
	for book := range during {
		src.delay("/"+book+".jpg", release)
	}
	produceCoverEvents(t, cl, during)
	waitFor(t, 15*time.Second, "an event of the second batch being fetched", func() (bool, string) {
		for book := range during {
			if src.count("/"+book+".jpg") > 0 {
				return true, ""
			}
		}
		return false, "no fetch yet"
	})
	cl.Close()
	cluster.Close()
	close(release)

	for book := range before {
		if !hasCover(t, svc.base, svc.signer, book) {
			t.Errorf("cover of %s with the broker down: not served", book)
		}
	}
	if resp, _ := do(t, http.MethodGet, svc.base+"/health", nil); resp.StatusCode != 200 {
		t.Errorf("/health with the broker down = %d, want 200", resp.StatusCode)
	}
	start := time.Now()
	resp, body := do(t, http.MethodGet, svc.base+"/ready", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"kafka":"unreachable"`) || time.Since(start) > 3*time.Second {
		t.Errorf("/ready with the broker down = %d %s after %v, want 200 degraded (kafka unreachable) within 3s: Kafka never takes a replica out", resp.StatusCode, body, time.Since(start))
	}
	time.Sleep(2 * time.Second) // the consumer notices and keeps retrying

	// After: the same broker is back; more events arrive.
	startPersistentKafka(t, port, dir)
	cl2, adm2 := kafkaTestClient(t, addr)
	produceCoverEvents(t, cl2, after)
	waitFor(t, 90*time.Second, "every event processed, committed and its result event published after the restart", func() (bool, string) {
		// Result events are published from the outbox, after the commit.
		if n := outboxLen(t, svc.app.store); n != 0 {
			return false, fmt.Sprintf("%d write-backs still queued", n)
		}
		for _, book := range all {
			if !hasCover(t, svc.base, svc.signer, book) {
				return false, book + " has no cover"
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		lag, err := groupLag(ctx, adm2, faultGroup, faultTopic)
		return err == nil && lag == 0, fmt.Sprintf("lag %d (%v)", lag, err)
	})
	if resp, _ := do(t, http.MethodGet, svc.base+"/ready", nil); resp.StatusCode != 200 {
		t.Errorf("/ready after the broker is back = %d, want 200", resp.StatusCode)
	}

	results := resultVersions(t, addr)
	for book := range before {
		if n := len(results[book]); n != 1 {
			t.Errorf("%s (committed before the outage) has %d result events, want 1: consumption must resume from the committed offset", book, n)
		}
		if n := src.count("/" + book + ".jpg"); n != 1 {
			t.Errorf("%s fetched %d times, want 1", book, n)
		}
	}
	checkOneOriginalPerBook(t, svc.app.store, all, results)
	t.Logf("result events per book: %v", results)
}
