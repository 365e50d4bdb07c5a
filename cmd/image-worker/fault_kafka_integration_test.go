package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/bookcovers/image-worker/internal/faultcheck"
	"github.com/bookcovers/image-worker/internal/hostile"
	"github.com/bookcovers/image-worker/internal/testenv"
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
			kfake.SeedTopics(2, faultcheck.Topic, faultcheck.Topic+".dlq", faultcheck.Results))
		if err == nil {
			t.Cleanup(c.Close)
			return c
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("kfake on port %d: %v", port, err)
	return nil
}

// distinctCover is the tiny test JPEG with the book id in a comment, so
// every book has its own bytes and version.
func distinctCover(t *testing.T, book string) []byte {
	return hostile.JPEGWithComment(readTestdata(t, "cover-50x75-tiny.jpg"), "book "+book)
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
	cl, adm := faultcheck.KafkaClient(t, addr)
	faultcheck.ProduceCoverEvents(t, cl, before)
	testenv.WaitFor(t, 30*time.Second, "events before the outage processed and committed", func() (bool, string) {
		for book := range before {
			if !faultcheck.HasCover(svc.base, svc.signer, book) {
				return false, book + " has no cover"
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		lag, err := faultcheck.GroupLag(ctx, adm, faultcheck.Group, faultcheck.Topic)
		return err == nil && lag == 0, fmt.Sprintf("lag %d (%v)", lag, err)
	})

	// During: fetches held at the origin while the broker goes away.
	release := make(chan struct{})
	for book := range during {
		src.delay("/"+book+".jpg", release)
	}
	faultcheck.ProduceCoverEvents(t, cl, during)
	testenv.WaitFor(t, 15*time.Second, "an event of the second batch being fetched", func() (bool, string) {
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
		if !faultcheck.HasCover(svc.base, svc.signer, book) {
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
	cl2, adm2 := faultcheck.KafkaClient(t, addr)
	faultcheck.ProduceCoverEvents(t, cl2, after)
	testenv.WaitFor(t, 90*time.Second, "every event processed, committed and its result event published after the restart", func() (bool, string) {
		// Result events are published from the outbox, after the commit.
		if n := faultcheck.OutboxLen(t, svc.app.store); n != 0 {
			return false, fmt.Sprintf("%d write-backs still queued", n)
		}
		for _, book := range all {
			if !faultcheck.HasCover(svc.base, svc.signer, book) {
				return false, book + " has no cover"
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		lag, err := faultcheck.GroupLag(ctx, adm2, faultcheck.Group, faultcheck.Topic)
		return err == nil && lag == 0, fmt.Sprintf("lag %d (%v)", lag, err)
	})
	if resp, _ := do(t, http.MethodGet, svc.base+"/ready", nil); resp.StatusCode != 200 {
		t.Errorf("/ready after the broker is back = %d, want 200", resp.StatusCode)
	}

	results := faultcheck.ResultVersions(t, addr)
	for book := range before {
		if n := len(results[book]); n != 1 {
			t.Errorf("%s (committed before the outage) has %d result events, want 1: consumption must resume from the committed offset", book, n)
		}
		if n := src.count("/" + book + ".jpg"); n != 1 {
			t.Errorf("%s fetched %d times, want 1", book, n)
		}
	}
	faultcheck.OneOriginalPerBook(t, svc.app.store, all, results)
	t.Logf("result events per book: %v", results)
}
