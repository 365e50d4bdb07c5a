package main

import (
	"bytes"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/internal/testenv"
	"github.com/twmb/franz-go/pkg/kfake"
)

// requireKcat finds Debian's kcat (installed by make test).
func requireKcat(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	if err != nil {
		testenv.Unavailable(t, "kcat not installed: apt-get install kcat, or run `make test`")
	}
	return p
}

func runKcat(t *testing.T, kcat string, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(kcat, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %v: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

// TestKcatWarmsCoversEndToEnd: a third-party client (kcat) produces
// book_enriched events into a Kafka-protocol broker on loopback; the service
// warms the cover, publishes the result event and dead-letters a bad event.
func TestKcatWarmsCoversEndToEnd(t *testing.T) {
	kcat := requireKcat(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "book_enriched", "book_enriched.dlq", "book_cover_ready"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := strings.Join(cluster.ListenAddrs(), ",")
	src := newSource(t)
	u := src.add("/k1.jpg", readTestdata(t, "photo-1600x2400-baseline.jpg"))
	svc := startService(t, localStore(t), src, map[string]string{
		"KAFKA_BROKERS": brokers, "KAFKA_RETRY_BASE": "10ms", "KAFKA_RETRY_MAX": "50ms",
	})

	events := `K1|{"book_id":"K1","cover_image_url":"` + u + `","title":"ignored field"}` + "\n" +
		`BAD|{not json` + "\n" +
		`K2|{"book_id":"K2"}` + "\n"
	runKcat(t, kcat, events, "-b", brokers, "-t", "book_enriched", "-P", "-K|")

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, _ := do(t, http.MethodGet, svc.signed("/covers/K1/320.webp"), nil)
		if resp.StatusCode == 200 && resp.Header.Get("X-Cover-Placeholder") == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cover K1 did not appear in 30s (last status %d, placeholder %q)", resp.StatusCode, resp.Header.Get("X-Cover-Placeholder"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if w, h := probeGet(t, svc.signed("/covers/K1/320.webp")); w != 320 || h != 480 {
		t.Errorf("K1 cover = %dx%d, want 320x480", w, h)
	}

	results := waitKcat(t, kcat, brokers, "book_cover_ready", "%k %s\n", func(s string) bool { return strings.Contains(s, "K1 ") })
	for _, want := range []string{`"state":"succeeded"`, `"storage_url":"` + cover.StorageURL("book-covers", cover.ContentOriginalKey(cover.ContentSum(readTestdata(t, "photo-1600x2400-baseline.jpg")))) + `"`, `"cover_path_template":"/covers/K1/{size}.{format}?v=`, `"width":1600`} {
		if !strings.Contains(results, want) {
			t.Errorf("result event lacks %s:\n%s", want, results)
		}
	}
	dlq := waitKcat(t, kcat, brokers, "book_enriched.dlq", "%k|%h|%s\n", func(s string) bool { return strings.Contains(s, "BAD|") })
	for _, want := range []string{"BAD|", "error_code=bad_event", "source_topic=book_enriched", "attempts=1", "|{not json"} {
		if !strings.Contains(dlq, want) {
			t.Errorf("DLQ record lacks %q:\n%s", want, dlq)
		}
	}
	if strings.Contains(dlq, "K2|") || strings.Contains(results, "K2 ") {
		t.Errorf("an event without cover_image_url was dead-lettered or published:\n%s\n%s", dlq, results)
	}
	// image-worker redrive puts the dead letter back on the main topic, where
	// it fails again and lands in the DLQ a second time.
	var out, errb bytes.Buffer
	code := run(t.Context(), []string{"redrive", "-max", "10"}, lookupMap(map[string]string{"KAFKA_BROKERS": brokers}), &out, &errb)
	if code != 0 || !strings.Contains(out.String(), "redrove 1 records") {
		t.Fatalf("redrive = %d %q %q, want 1 record", code, out.String(), errb.String())
	}
	dlq = waitKcat(t, kcat, brokers, "book_enriched.dlq", "%k|%h|%s\n", func(s string) bool { return strings.Count(s, "BAD|") == 2 })
	if strings.Count(dlq, "BAD|") != 2 {
		t.Errorf("after redrive the DLQ holds %d BAD records, want 2:\n%s", strings.Count(dlq, "BAD|"), dlq)
	}
	resp, body := do(t, http.MethodGet, svc.base+"/ready", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "kafka") {
		t.Errorf("/ready = %d %s, want 200 reporting kafka", resp.StatusCode, body)
	}
}

// waitKcat reads a topic from the beginning until done(output) holds.
func waitKcat(t *testing.T, kcat, brokers, topic, format string, done func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out := runKcat(t, kcat, "", "-b", brokers, "-t", topic, "-C", "-o", "beginning", "-e", "-q", "-f", format)
		if done(out) || time.Now().After(deadline) {
			return out
		}
		time.Sleep(200 * time.Millisecond)
	}
}
