package ingest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/internal/testenv"
)

const (
	scaleFinished = 50_000
	scaleOpen     = 200
)

// TestJobsAtScale: with 50,000 finished and 200 open job records in real
// MinIO, two replicas start together. Start makes no store call at all, the
// history is never listed or read (only the open index is), and each open
// job is run exactly once across the two, then recorded as finished.
func TestJobsAtScale(t *testing.T) {
	env := testenv.StartMinIOInMemory(t)
	cfg := cache.DefaultMinIOConfig()
	cfg.Endpoint, cfg.AccessKey, cfg.SecretKey = env.Endpoint, env.AccessKey, env.SecretKey
	var b [6]byte
	_, _ = rand.Read(b[:])
	cfg.Bucket = "covers-jobs-" + hex.EncodeToString(b[:])
	store, err := cache.NewMinIOStore(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)

	start := time.Now()
	bulkPutFinishedJobs(t, cfg, scaleFinished)
	t.Logf("wrote %d finished job records in %v", scaleFinished, time.Since(start).Round(time.Millisecond))
	var open []string
	for i := 1; i <= scaleOpen; i++ {
		open = append(open, putOpenJob(t, store, i, "replica-that-died", time.Now().Add(-time.Minute), nil))
	}

	w := newPerJobWarm()
	var stores []*callStore
	var queues []*Jobs
	for _, owner := range []string{"r1", "r2"} {
		cs := &callStore{Store: store}
		stores = append(stores, cs)
		qcfg := DefaultJobsConfig()
		qcfg.Owner, qcfg.Lease = owner, 2*time.Second
		j, err := NewJobs(qcfg, cs, w, func(string) error { return nil }, nil, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		queues = append(queues, j)
	}
	for i, j := range queues {
		t0 := time.Now()
		if err := j.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Logf("replica %d: Start returned in %v", i+1, time.Since(t0))
		t.Cleanup(func() { _ = j.Stop(context.Background()) })
	}
	deadline := time.Now().Add(2 * time.Minute)
	for _, id := range open {
		for {
			job, err := store.Get(t.Context(), cache.JobKey(id))
			var rec Job
			if err == nil && json.Unmarshal(job.Data, &rec) == nil && rec.State == JobSucceeded {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("open job %s not finished in 2 minutes", id)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	total, twice := w.total()
	if total != scaleOpen || len(twice) != 0 {
		t.Errorf("warms = %d (run twice: %v), want %d, each job once", total, twice, scaleOpen)
	}
	// A job is recorded as finished first, then dropped from the index.
	left, err := store.List(t.Context(), cache.OpenJobsPrefix())
	for wait := time.Now().Add(10 * time.Second); (err != nil || len(left) != 0) && time.Now().Before(wait); {
		time.Sleep(20 * time.Millisecond)
		left, err = store.List(t.Context(), cache.OpenJobsPrefix())
	}
	if err != nil || len(left) != 0 {
		t.Errorf("open index after the run: %d records (%v), want none", len(left), err)
	}
	ran := 0
	for i, cs := range stores {
		got := 0
		for _, c := range cs.snapshot() {
			op, key, _ := strings.Cut(c, " ")
			if (op == "list" || op == "listpage") && strings.HasPrefix(key, cache.JobsPrefix()) {
				t.Errorf("replica %d listed the history: %s", i+1, c)
			}
			if op == "get" && strings.HasPrefix(key, cache.JobsPrefix()) {
				got++
			}
		}
		ran += int(queues[i].takeovers.Get())
		// A job is checked for a finished record once when it is taken.
		if got > scaleOpen {
			t.Errorf("replica %d read %d finished records, want at most one per open job (%d)", i+1, got, scaleOpen)
		}
	}
	if ran != scaleOpen {
		t.Errorf("takeovers across both replicas = %d, want %d", ran, scaleOpen)
	}
	if days, err := store.ExpirationDays(t.Context(), cache.JobsPrefix()); err != nil || days != 7 {
		t.Errorf("lifecycle expiry of finished job records = %d days (%v), want 7", days, err)
	}
}

// bulkPutFinishedJobs writes n finished records in one snowball upload.
func bulkPutFinishedJobs(t *testing.T, cfg cache.MinIOConfig, n int) {
	t.Helper()
	cl, err := minio.New(cfg.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""), Region: cfg.Region})
	if err != nil {
		t.Fatal(err)
	}
	objs := make(chan minio.SnowballObject, 256)
	go func() {
		defer close(objs)
		now := time.Now().UTC()
		for i := range n {
			rec := Job{ID: fmt.Sprintf("f%031x", i), BookID: fmt.Sprintf("H%d", i), ImageURL: "https://a.example/x.jpg",
				State: JobSucceeded, Version: "abcdefabcdef", Attempts: 1, CreatedAt: now, UpdatedAt: now}
			data, _ := json.Marshal(rec)
			objs <- minio.SnowballObject{Key: cache.JobKey(rec.ID), Size: int64(len(data)), ModTime: now, Content: bytes.NewReader(data)}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := cl.PutObjectsSnowball(ctx, cfg.Bucket, minio.SnowballOptions{InMemory: true}, objs); err != nil {
		t.Fatalf("snowball upload: %v", err)
	}
}

// ExpirePrefix passes the lifecycle rule through to the store.
func (s *callStore) ExpirePrefix(ctx context.Context, prefix string, age time.Duration) error {
	if e, ok := s.Store.(cache.Expirer); ok {
		return e.ExpirePrefix(ctx, prefix, age)
	}
	return nil
}

func (s *callStore) snapshot() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}
