package ingest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	t.Parallel()
	t.Run("wakes every waiter when the job finishes", func(t *testing.T) {
		t.Parallel()
		w := &fakeWarm{block: make(chan struct{})}
		j := testJobs(t, newTestStore(t), w)
		job, err := j.Submit(t.Context(), "B1", "https://a.example/x.jpg", false)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		got := make([]Job, 3)
		errs := make([]error, 3)
		for i := range got {
			wg.Add(1)
			go func() { defer wg.Done(); got[i], errs[i] = j.Wait(t.Context(), job.ID) }()
		}
		waitCond(t, func() bool { j.mu.Lock(); defer j.mu.Unlock(); return len(j.done) == 1 })
		close(w.block)
		wg.Wait()
		for i := range got {
			if errs[i] != nil || got[i].State != JobSucceeded || got[i].Version != "abcdefabcdef" {
				t.Errorf("waiter %d: Wait = %+v, %v; want succeeded with version", i, got[i], errs[i])
			}
		}
		j.mu.Lock()
		left := len(j.done)
		j.mu.Unlock()
		if left != 0 {
			t.Errorf("%d wait channels left after the job finished, want 0", left)
		}
	})
	t.Run("returns the latest state when ctx ends first", func(t *testing.T) {
		t.Parallel()
		w := &fakeWarm{block: make(chan struct{})}
		j := testJobs(t, newTestStore(t), w)
		defer close(w.block)
		job, _ := j.Submit(t.Context(), "B1", "https://a.example/x.jpg", false)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		got, err := j.Wait(ctx, job.ID)
		if !errors.Is(err, context.DeadlineExceeded) || got.ID != job.ID || got.State.Finished() {
			t.Errorf("Wait on a blocked job = %+v, %v; want its unfinished state and DeadlineExceeded", got, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Wait returned after %v, want about 50ms", d)
		}
	})
	t.Run("a failed job", func(t *testing.T) {
		t.Parallel()
		w := &fakeWarm{errs: []error{ErrSourceRejected}}
		j := testJobs(t, newTestStore(t), w)
		job, _ := j.Submit(t.Context(), "B1", "https://a.example/x.jpg", false)
		got, err := j.Wait(t.Context(), job.ID)
		if err != nil || got.State != JobFailed || got.Error == nil || got.Error.Code != "source_rejected" {
			t.Errorf("Wait = %+v, %v; want failed with source_rejected", got, err)
		}
	})
	t.Run("a finished job returns at once", func(t *testing.T) {
		t.Parallel()
		j := testJobs(t, newTestStore(t), &fakeWarm{})
		job, _ := j.Submit(t.Context(), "B1", "https://a.example/x.jpg", false)
		waitJob(t, j, job.ID)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if got, err := j.Wait(ctx, job.ID); err != nil || got.State != JobSucceeded {
			t.Errorf("Wait on a finished job = %+v, %v", got, err)
		}
	})
	t.Run("unknown and malformed ids", func(t *testing.T) {
		t.Parallel()
		j := testJobs(t, newTestStore(t), &fakeWarm{})
		for _, id := range []string{"0123456789abcdef0123456789abcdef", "../jobs", ""} {
			if _, err := j.Wait(t.Context(), id); !errors.Is(err, ErrJobNotFound) {
				t.Errorf("Wait(%q) = %v, want ErrJobNotFound", id, err)
			}
		}
	})
}

func waitCond(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
