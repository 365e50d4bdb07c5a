package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/internal/testenv"
	"github.com/minio/minio-go/v7"
)

// minioFromEnv returns the configuration of the test MinIO (started by
// `make test`) with a fresh, unique bucket name; see internal/testenv.
func minioFromEnv(t *testing.T) MinIOConfig {
	t.Helper()
	env := testenv.MinIO(t)
	cfg := DefaultMinIOConfig()
	cfg.Endpoint, cfg.AccessKey, cfg.SecretKey = env.Endpoint, env.AccessKey, env.SecretKey
	cfg.Bucket = uniqueBucket(t)
	return cfg
}

// uniqueBucket returns a valid bucket name no other test uses.
func uniqueBucket(t *testing.T) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "covers-test-" + hex.EncodeToString(b[:])
}

// newMinIOTestStore opens a store on a fresh bucket of the test MinIO, checks
// the bucket exists and is private, and removes it with its objects when the
// test ends.
func newMinIOTestStore(t *testing.T) *MinIOStore {
	t.Helper()
	cfg := minioFromEnv(t)
	s, err := NewMinIOStore(t.Context(), cfg, storeTestLogger())
	if err != nil {
		t.Fatalf("NewMinIOStore(%s, bucket %s) = %v", cfg.Endpoint, cfg.Bucket, err)
	}
	t.Cleanup(func() { removeTestBucket(t, s) })
	assertPrivateBucket(t, s)
	return s
}

// assertPrivateBucket fails the test unless the store's bucket exists and
// carries no policy (so anonymous users get nothing).
func assertPrivateBucket(t *testing.T, s *MinIOStore) {
	t.Helper()
	exists, err := s.client.BucketExists(t.Context(), s.Bucket())
	if err != nil || !exists {
		t.Fatalf("BucketExists(%s) = %v, %v; want true, nil", s.Bucket(), exists, err)
	}
	policy, err := s.client.GetBucketPolicy(t.Context(), s.Bucket())
	if err != nil || policy != "" {
		t.Fatalf("GetBucketPolicy(%s) = %q, %v; want no policy", s.Bucket(), policy, err)
	}
}

// removeTestBucket deletes every object and then the bucket. It runs after
// the test's context is cancelled, so it has its own.
func removeTestBucket(t *testing.T, s *MinIOStore) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for obj := range s.client.ListObjects(ctx, s.Bucket(), minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Errorf("cleanup: list %s: %v", s.Bucket(), obj.Err)
			return
		}
		if err := s.client.RemoveObject(ctx, s.Bucket(), obj.Key, minio.RemoveObjectOptions{}); err != nil {
			t.Errorf("cleanup: remove %s/%s: %v", s.Bucket(), obj.Key, err)
		}
	}
	if err := s.client.RemoveBucket(ctx, s.Bucket()); err != nil {
		t.Errorf("cleanup: remove bucket %s: %v", s.Bucket(), err)
	}
	s.Close()
}

// closedLoopbackAddr returns a 127.0.0.1 address on which nothing listens.
func closedLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("close listener: %v", err)
	}
	return addr
}

func storeTestLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
