package events

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bookcovers/image-worker/cover"
)

func TestConsumeRetriesPassingFailureUntilSuccess(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, testTopic, testDLQ, testResult))
	cfg := testConfig(c)
	cfg.MaxAttempts = 5
	o := newOrigin(t, func(n int64) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	cl, adm := newClient(t, c)
	results := NewResults(cl, cfg)
	produce(t, cl, event("book-1", o.url("/b1.jpg")))
	r := startConsumer(t, cfg, newRealWarm(t, o), results)

	waitFor(t, 15*time.Second, "offset 1 committed", func() bool { return committed(t, adm, cfg.GroupID, testTopic, 0) == 1 })
	if got := o.requests.Load(); got != 3 {
		t.Errorf("origin requests = %d, want 3 (503, 503, 200)", got)
	}
	if got := r.m.retries.Get(); got != 2 {
		t.Errorf("retries_total = %d, want 2", got)
	}
	if got := r.m.succeeded.Get(); got != 1 {
		t.Errorf("events_total{succeeded} = %d, want 1", got)
	}
	if got := len(readTopic(t, c, testResult)); got != 1 {
		t.Errorf("result events = %d, want 1", got)
	}
	if got := len(readTopic(t, c, testDLQ)); got != 0 {
		t.Errorf("DLQ records = %d, want 0", got)
	}
}

func TestConsumePermanentFailureGoesToDLQAtOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int    // origin answer
		path     string // "" = a loopback address outside the allow list
		code     string
		requests int64
		missing  bool // the book has no cover and the source has none: a failed result says so
	}{
		{"404", http.StatusNotFound, "/missing.jpg", "source_rejected", 1, true},
		{"410", http.StatusGone, "/gone.jpg", "source_rejected", 1, true},
		{"not an image", 299, "/page.jpg", "not_an_image", 1, false},
		{"blocked address", http.StatusOK, "", "blocked_address", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, kfake.SeedTopics(1, testTopic, testDLQ, testResult))
			cfg := testConfig(c)
			cfg.MaxAttempts = 5
			o := newOrigin(t, func(int64) int { return tt.status })
			src := "http://127.0.0.1:9/cover.jpg" // loopback, but not allowed: refused before dialing
			if tt.path != "" {
				src = o.url(tt.path)
			}
			cl, adm := newClient(t, c)
			results := NewResults(cl, cfg)
			produce(t, cl, event("book-1", src))
			r := startConsumer(t, cfg, newRealWarm(t, o), results)

			waitFor(t, 15*time.Second, "offset 1 committed", func() bool { return committed(t, adm, cfg.GroupID, testTopic, 0) == 1 })
			dl := readTopic(t, c, testDLQ)
			if len(dl) != 1 {
				t.Fatalf("DLQ records = %d, want 1", len(dl))
			}
			if string(dl[0].Key) != "book-1" || string(dl[0].Value) != string(event("book-1", src).Value) {
				t.Errorf("DLQ record = %q/%q, want the original key and value", dl[0].Key, dl[0].Value)
			}
			checkDLQHeaders(t, dl[0], tt.code, 1, 0)
			if got := o.requests.Load(); got != tt.requests {
				t.Errorf("origin requests = %d, want %d", got, tt.requests)
			}
			if got := r.m.retries.Get(); got != 0 {
				t.Errorf("retries_total = %d, want 0", got)
			}
			if got := r.m.deadLetters(tt.code).Get(); got != 1 {
				t.Errorf("dead_letters_total{code=%q} = %d, want 1", tt.code, got)
			}
			res := readTopic(t, c, testResult)
			if !tt.missing {
				if len(res) != 0 {
					t.Errorf("result events = %d, want 0", len(res))
				}
				return
			}
			want := `{"book_id":"book-1","state":"failed","source_url":"` + src + `","source_url_sha256":"` + sha256Hex(src) +
				`","error":{"code":"source_rejected","message":"` + cover.CodeSourceRejected.Message() + `"},"processed_at":`
			if len(res) != 1 || !strings.HasPrefix(string(res[0].Value), want) || !strings.HasSuffix(string(res[0].Value), `,"cover_status":"missing"}`) {
				t.Errorf("result events = %d (first %s); want one failed source_rejected with cover_status missing", len(res), valueOf(res))
			}
		})
	}
}

// valueOf is the value of the first record, for messages.
func valueOf(recs []*kgo.Record) string {
	if len(recs) == 0 {
		return "none"
	}
	return string(recs[0].Value)
}

func TestConsumeRetriesExhaustedGoToDLQ(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, testTopic, testDLQ))
	cfg := testConfig(c)
	cfg.MaxAttempts = 3
	o := newOrigin(t, func(int64) int { return http.StatusBadGateway })
	cl, adm := newClient(t, c)
	produce(t, cl, event("book-1", o.url("/b1.jpg")))
	r := startConsumer(t, cfg, newRealWarm(t, o), nil)

	waitFor(t, 15*time.Second, "offset 1 committed", func() bool { return committed(t, adm, cfg.GroupID, testTopic, 0) == 1 })
	dl := readTopic(t, c, testDLQ)
	if len(dl) != 1 {
		t.Fatalf("DLQ records = %d, want 1", len(dl))
	}
	checkDLQHeaders(t, dl[0], "fetch_failed", 3, 0)
	if got := o.requests.Load(); got != 3 {
		t.Errorf("origin requests = %d, want 3", got)
	}
	if got := r.m.retries.Get(); got != 2 {
		t.Errorf("retries_total = %d, want 2", got)
	}
	if got := r.m.succeeded.Get(); got != 0 {
		t.Errorf("events_total{succeeded} = %d, want 0", got)
	}
}

// A failing outcome (result event or catalog write) is retried like a
// passing failure; the offset is committed only once it succeeded.
func TestConsumeRetriesFailedOutcome(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, testTopic, testDLQ))
	cfg := testConfig(c)
	cl, adm := newClient(t, c)
	outcomes := &flakyOutcomes{failures: 2}
	produce(t, cl, event("book-1", "http://127.0.0.1:9/a.jpg"))
	r := startConsumer(t, cfg, &fakeWarmer{}, outcomes)
	waitFor(t, 15*time.Second, "offset 1 committed", func() bool { return committed(t, adm, cfg.GroupID, testTopic, 0) == 1 })
	if got := outcomes.calls.Load(); got != 3 {
		t.Errorf("Succeeded calls = %d, want 3", got)
	}
	if got := r.m.retries.Get(); got != 2 {
		t.Errorf("retries_total = %d, want 2", got)
	}
	if got := r.m.succeeded.Get(); got != 1 {
		t.Errorf("events_total{succeeded} = %d, want 1", got)
	}
}
