package events

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

func TestResultsFailedPublishesTheJobFailure(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, testResult))
	cfg := testConfig(c)
	cl, _ := newClient(t, c)
	r := NewResults(cl, cfg)
	fixed := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	r.now = func() time.Time { return fixed }

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Failed(ctx, "job-7", "book-1", "https://img.example/c.jpg", "not_an_image", "the original is not a supported image"); err != nil {
		t.Fatalf("Failed: %v", err)
	}
	recs := readTopic(t, c, testResult)
	if len(recs) != 1 || string(recs[0].Key) != "book-1" {
		t.Fatalf("result topic = %d records (first key %q), want 1 keyed book-1", len(recs), keyOf(recs))
	}
	var got map[string]any
	if err := json.Unmarshal(recs[0].Value, &got); err != nil {
		t.Fatalf("result %s: %v", recs[0].Value, err)
	}
	want := map[string]any{
		"book_id": "book-1", "state": "failed", "job_id": "job-7", "source_url": "https://img.example/c.jpg",
		"error":        map[string]any{"code": "not_an_image", "message": "the original is not a supported image"},
		"processed_at": "2030-01-02T03:04:05Z",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("failed result = %v, want %v", got, want)
	}
	if n := r.published[stateFailed].Get(); n != 1 {
		t.Errorf("results_published_total{failed} = %d, want 1", n)
	}
}

// A result topic that cannot be written makes Succeeded fail, which the
// consumer treats as retryable.
func TestResultsErrorWhenTopicMissing(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, testTopic))
	cfg := testConfig(c)
	cl, _ := newClient(t, c)
	r := NewResults(cl, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Failed(ctx, "j", "book-1", "u", "timeout", "m"); err == nil {
		t.Fatalf("Failed to a missing topic = nil, want an error")
	}
	if n := r.errs.Get(); n != 1 {
		t.Errorf("result_errors_total = %d, want 1", n)
	}
}
