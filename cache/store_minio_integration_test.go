package cache

// Integration tests against a real MinIO (see store_testenv_test.go), then
// tests of the MinIO store that need no server: an unreachable endpoint, fake
// S3 servers on loopback, error classification and configuration.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

func TestMinIOStoreConformance(t *testing.T) {
	t.Parallel()
	minioFromEnv(t) // skip or fail once, before the subtests
	runStoreConformance(t, func(t *testing.T) Store { return newMinIOTestStore(t) })
}

func TestMinIOStoreBucketIsPrivate(t *testing.T) {
	t.Parallel()
	s := newMinIOTestStore(t)
	mustPutObject(t, s, "originals/b1/v1", []byte("cover"), "image/jpeg")
	// An anonymous request (no signature) must be refused.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 10 * time.Second}
	for _, path := range []string{"/" + s.Bucket() + "/originals/b1/v1", "/" + s.Bucket() + "/?list-type=2"} {
		u := "http://" + s.client.EndpointURL().Host + path
		resp, err := client.Get(u)
		if err != nil {
			t.Fatalf("anonymous GET %s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("anonymous GET %s = %d, want 403", path, resp.StatusCode)
		}
	}
}

func TestNewMinIOStoreConcurrentCreate(t *testing.T) {
	t.Parallel()
	cfg := minioFromEnv(t)
	const instances = 8
	stores := make([]*MinIOStore, instances)
	errs := make([]error, instances)
	var wg sync.WaitGroup
	for i := range instances {
		wg.Go(func() { stores[i], errs[i] = NewMinIOStore(t.Context(), cfg, storeTestLogger()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: NewMinIOStore(bucket %s) = %v, want nil", i, cfg.Bucket, err)
		}
	}
	if stores[0] == nil {
		t.FailNow()
	}
	t.Cleanup(func() { removeTestBucket(t, stores[0]) })
	assertPrivateBucket(t, stores[0])
	// Every instance sees the same bucket.
	mustPutObject(t, stores[0], "shared", []byte("x"), "text/plain")
	for i, s := range stores {
		if s == nil {
			continue
		}
		if _, err := s.Get(t.Context(), "shared"); err != nil {
			t.Errorf("instance %d: Get(shared) = %v, want nil", i, err)
		}
	}
}

func TestMinIOStoreBucketRemoved(t *testing.T) {
	t.Parallel()
	s := newMinIOTestStore(t)
	mustPutObject(t, s, "k", []byte("x"), "text/plain")
	other, err := newMinIOStore(minioFromEnv(t), storeTestLogger())
	if err != nil {
		t.Fatal(err)
	}
	other.bucket = s.Bucket() // a second handle, to pull the bucket away
	removeTestBucket(t, other)
	if _, err := s.Get(t.Context(), "k"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Get with the bucket gone = %v, want ErrUnavailable", err)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Ping with the bucket gone = %v, want ErrUnavailable", err)
	}
	// Re-create it so that the cleanup finds a bucket to remove.
	if err := s.ensureBucket(t.Context()); err != nil {
		t.Fatalf("ensureBucket = %v", err)
	}
}

func TestMinIOStoreUnreachable(t *testing.T) {
	t.Parallel()
	cfg := DefaultMinIOConfig()
	cfg.Endpoint = closedLoopbackAddr(t)
	cfg.AccessKey, cfg.SecretKey = "test-access", "test-secret"
	cfg.Timeout = 2 * time.Second
	bound := 3 * cfg.Timeout

	start := time.Now()
	if _, err := NewMinIOStore(t.Context(), cfg, storeTestLogger()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("NewMinIOStore(closed port) = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > bound {
		t.Errorf("NewMinIOStore(closed port) took %v, want under %v", d, bound)
	}

	s, err := newMinIOStore(cfg, storeTestLogger())
	if err != nil {
		t.Fatalf("newMinIOStore = %v", err)
	}
	defer s.Close()
	ops := []struct {
		name string
		call func(context.Context) error
	}{
		{"Get", func(ctx context.Context) error { _, err := s.Get(ctx, "k"); return err }},
		{"Put", func(ctx context.Context) error { return s.Put(ctx, "k", []byte("x"), "text/plain") }},
		{"Delete", func(ctx context.Context) error { return s.Delete(ctx, "k") }},
		{"List", func(ctx context.Context) error { _, err := s.List(ctx, ""); return err }},
		{"Ping", s.Ping},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			start := time.Now()
			err := op.call(t.Context())
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("%s(closed port) = %v, want ErrUnavailable", op.name, err)
			}
			if d := time.Since(start); d > bound {
				t.Errorf("%s(closed port) took %v, want under %v", op.name, d, bound)
			}
		})
	}
}

// fakeS3 starts an HTTP server on 127.0.0.1 (httptest's default) that answers
// every request with handler, and returns a store pointed at it.
func fakeS3(t *testing.T, timeout time.Duration, handler http.HandlerFunc) *MinIOStore {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	cfg := DefaultMinIOConfig()
	cfg.Endpoint = strings.TrimPrefix(srv.URL, "http://")
	cfg.AccessKey, cfg.SecretKey = "test-access", "test-secret"
	cfg.Timeout = timeout
	s, err := newMinIOStore(cfg, storeTestLogger())
	if err != nil {
		t.Fatalf("newMinIOStore(%s) = %v", cfg.Endpoint, err)
	}
	t.Cleanup(s.Close)
	return s
}

func s3Error(status int, code string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.Header().Set("X-Minio-Error-Code", code) // as MinIO does, so a HEAD has a code too
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>fake</Message></Error>`, code)
		}
	}
}

func TestMinIOStoreFakeServerErrors(t *testing.T) {
	t.Parallel()
	hang := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    error // nil: none of the store sentinels
	}{
		{"404 NoSuchKey", s3Error(http.StatusNotFound, "NoSuchKey"), ErrNotFound},
		{"404 NoSuchBucket", s3Error(http.StatusNotFound, "NoSuchBucket"), ErrUnavailable},
		{"500 InternalError", s3Error(http.StatusInternalServerError, "InternalError"), ErrUnavailable},
		{"503 SlowDown", s3Error(http.StatusServiceUnavailable, "SlowDown"), ErrUnavailable},
		{"403 AccessDenied", s3Error(http.StatusForbidden, "AccessDenied"), nil},
		{"server never answers", hang, ErrTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			timeout := time.Second
			s := fakeS3(t, timeout, tc.handler)
			start := time.Now()
			_, err := s.Get(t.Context(), "originals/b1/v1")
			if err == nil {
				t.Fatalf("Get = nil error, want one")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Get = %v, want %v", err, tc.want)
			}
			for _, other := range []error{ErrNotFound, ErrUnavailable, ErrTimeout} {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("Get = %v, which also matches %v", err, other)
				}
			}
			if d := time.Since(start); d > 3*timeout {
				t.Errorf("Get took %v, want under %v", d, 3*timeout)
			}
		})
	}
}

func TestMinIOSentinel(t *testing.T) {
	t.Parallel()
	refused := &url.Error{Op: "Get", URL: "http://127.0.0.1:1/b/k",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"NoSuchKey", minio.ErrorResponse{Code: minio.NoSuchKey, StatusCode: 404}, ErrNotFound},
		{"NoSuchBucket", minio.ErrorResponse{Code: minio.NoSuchBucket, StatusCode: 404}, ErrUnavailable},
		{"5xx", minio.ErrorResponse{Code: "InternalError", StatusCode: 500}, ErrUnavailable},
		{"RequestTimeout", minio.ErrorResponse{Code: "RequestTimeout", StatusCode: 400}, ErrTimeout},
		{"AccessDenied", minio.ErrorResponse{Code: "AccessDenied", StatusCode: 403}, nil},
		{"connection refused", refused, ErrUnavailable},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), ErrUnavailable},
		{"DNS failure", &net.DNSError{Err: "no such host", Name: "minio", IsNotFound: true}, ErrUnavailable},
		{"deadline", context.DeadlineExceeded, ErrTimeout},
		{"caller cancelled", context.Canceled, nil},
		{"unknown", errors.New("something else"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := minioSentinel(tc.err); got != tc.want {
				t.Errorf("minioSentinel(%v) = %v, want %v", tc.err, got, tc.want)
			}
			wrapped := classifyMinIO("get", "k", tc.err)
			if !errors.Is(wrapped, tc.err) {
				t.Errorf("classifyMinIO(%v) = %v, which lost the original error", tc.err, wrapped)
			}
		})
	}
}

func TestMinIOConfigValidate(t *testing.T) {
	t.Parallel()
	valid := DefaultMinIOConfig()
	valid.Endpoint, valid.AccessKey, valid.SecretKey = "minio:9000", "ak", "sk"
	with := func(f func(*MinIOConfig)) MinIOConfig { c := valid; f(&c); return c }
	tests := []struct {
		name     string
		cfg      MinIOConfig
		problems int
	}{
		{"valid", valid, 0},
		{"endpoint with scheme", with(func(c *MinIOConfig) { c.Endpoint = "http://minio:9000" }), 1},
		{"endpoint with path", with(func(c *MinIOConfig) { c.Endpoint = "minio:9000/x" }), 1},
		{"bad bucket", with(func(c *MinIOConfig) { c.Bucket = "Book_Covers" }), 1},
		{"zero timeout", with(func(c *MinIOConfig) { c.Timeout = 0 }), 1},
		{"default only", DefaultMinIOConfig(), 3},
		{"empty", MinIOConfig{}, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			got := 0
			if joined, ok := err.(interface{ Unwrap() []error }); ok {
				got = len(joined.Unwrap())
			} else if err != nil {
				got = 1
			}
			if got != tc.problems {
				t.Errorf("Validate() = %v: %d problems, want %d", err, got, tc.problems)
			}
		})
	}
	if _, err := newMinIOStore(MinIOConfig{}, storeTestLogger()); err == nil {
		t.Errorf("newMinIOStore(empty config) = nil error, want the validation error")
	}
}
