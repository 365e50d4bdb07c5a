package ingest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
)

// panicWarm panics for one book and warms every other.
type panicWarm struct{}

func (panicWarm) Warm(_ context.Context, bookID, _ string, _ bool, _ time.Time) (cover.Manifest, error) {
	if bookID == "BOOM" {
		panic("fetcher bug")
	}
	return cover.Manifest{BookID: bookID, Version: "abcdefabcdef"}, nil
}

// TestJobPanicFailsOnlyThatJob: a job whose warm panics fails with the code
// "internal" (not retried); the worker and the process go on, the next job
// succeeds, and the panic is counted.
func TestJobPanicFailsOnlyThatJob(t *testing.T) {
	j := testJobs(t, newTestStore(t), panicWarm{})
	boom, err := j.Submit(t.Context(), "BOOM", "https://covers.example/boom.jpg", false)
	if err != nil {
		t.Fatal(err)
	}
	got := waitJob(t, j, boom.ID)
	if got.State != JobFailed || got.Error == nil || got.Error.Code != "internal" || got.Attempts != 1 {
		t.Fatalf("job whose warm panicked = %+v; want failed once with code internal", got)
	}
	ok, err := j.Submit(t.Context(), "FINE", "https://covers.example/fine.jpg", false)
	if err != nil {
		t.Fatal(err)
	}
	if got := waitJob(t, j, ok.ID); got.State != JobSucceeded {
		t.Fatalf("next job = %+v; want succeeded", got)
	}
	var sb strings.Builder
	j.Metrics().WritePrometheus(&sb)
	if !strings.Contains(sb.String(), `covers_panics_total{component="jobs"} 1`) {
		t.Errorf("panic not counted:\n%s", sb.String())
	}
}
