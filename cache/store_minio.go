package cache

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// minioMaxAttempts bounds minio-go's internal retries (its default is 10
// with back-off): one retry is enough to ride over a dropped keep-alive
// connection, and a stopped MinIO fails in milliseconds, not seconds.
const minioMaxAttempts = 2

// MinIOConfig configures a MinIOStore.
type MinIOConfig struct {
	Endpoint  string // host:port, no scheme
	AccessKey string
	SecretKey string
	Region    string
	Bucket    string
	UseSSL    bool
	Timeout   time.Duration // per operation
}

// DefaultMinIOConfig returns the defaults: bucket "book-covers", region
// "us-east-1", 10s per operation. Endpoint and keys have no default.
func DefaultMinIOConfig() MinIOConfig {
	return MinIOConfig{Bucket: "book-covers", Region: "us-east-1", Timeout: 10 * time.Second}
}

// Validate reports every problem of the configuration at once.
func (c MinIOConfig) Validate() error {
	var errs []error
	switch {
	case c.Endpoint == "":
		errs = append(errs, errors.New("minio config: endpoint is empty"))
	case strings.Contains(c.Endpoint, "://"), strings.ContainsAny(c.Endpoint, "/?# \t"):
		errs = append(errs, fmt.Errorf("minio config: endpoint %q must be host[:port] without scheme or path", c.Endpoint))
	}
	if c.AccessKey == "" {
		errs = append(errs, errors.New("minio config: access key is empty"))
	}
	if c.SecretKey == "" {
		errs = append(errs, errors.New("minio config: secret key is empty"))
	}
	if c.Region == "" {
		errs = append(errs, errors.New("minio config: region is empty"))
	}
	if err := s3utils.CheckValidBucketNameStrict(c.Bucket); err != nil {
		errs = append(errs, fmt.Errorf("minio config: bucket %q: %w", c.Bucket, err))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("minio config: timeout %s must be positive", c.Timeout))
	}
	return errors.Join(errs...)
}

// MinIOStore is a Store in one private MinIO/S3 bucket.
type MinIOStore struct {
	client    *minio.Client
	transport *http.Transport
	bucket    string
	region    string
	timeout   time.Duration
	logger    *slog.Logger
	metrics   *storeMetrics
}

var _ Store = (*MinIOStore)(nil)

// NewMinIOStore connects to MinIO and creates the bucket if it is missing.
// The bucket stays private: no policy is ever set on it. It fails, wrapping
// ErrUnavailable or ErrTimeout, when the server cannot be reached.
func NewMinIOStore(ctx context.Context, cfg MinIOConfig, logger *slog.Logger) (*MinIOStore, error) {
	s, err := newMinIOStore(cfg, logger)
	if err != nil {
		return nil, err
	}
	if err := s.ensureBucket(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open minio store %s bucket %s: %w", cfg.Endpoint, cfg.Bucket, err)
	}
	return s, nil
}

// newMinIOStore builds the client without talking to the server.
func newMinIOStore(cfg MinIOConfig, logger *slog.Logger) (*MinIOStore, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open minio store: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	transport := newMinIOTransport(cfg.Timeout)
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:     cfg.UseSSL,
		Transport:  transport,
		Region:     cfg.Region,
		MaxRetries: minioMaxAttempts,
	})
	if err != nil {
		return nil, fmt.Errorf("open minio store: %w", err)
	}
	return &MinIOStore{
		client:    client,
		transport: transport,
		bucket:    cfg.Bucket,
		region:    cfg.Region,
		timeout:   cfg.Timeout,
		logger:    logger,
		metrics:   newStoreMetrics(),
	}, nil
}

// newMinIOTransport bounds every phase of a request, and never uses an
// environment proxy: store traffic goes straight to the configured endpoint.
func newMinIOTransport(timeout time.Duration) *http.Transport {
	dial := min(timeout, 5*time.Second)
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   dial,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		DisableCompression:    true,
	}
}

// ensureBucket creates the bucket unless it exists. Two instances starting
// together may race to create it: BucketAlreadyOwnedByYou means we lost the
// race to ourselves, which is success.
func (s *MinIOStore) ensureBucket(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	exists, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return classifyMinIO("check bucket", s.bucket, err)
	}
	if exists {
		return nil
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: s.region})
	if err != nil && minio.ToErrorResponse(err).Code != minio.BucketAlreadyOwnedByYou {
		return classifyMinIO("create bucket", s.bucket, err)
	}
	if err == nil {
		s.logger.Info("created store bucket", "bucket", s.bucket)
	}
	return nil
}

// Bucket returns the bucket name.
func (s *MinIOStore) Bucket() string { return s.bucket }

// Metrics returns the store's metrics (see doc.go).
func (s *MinIOStore) Metrics() *metrics.Set { return s.metrics.set }

// Close drops idle connections. In-flight operations are not interrupted.
func (s *MinIOStore) Close() { s.transport.CloseIdleConnections() }

// Get implements Store. It makes one GET and takes data and metadata from
// the same response: Client.GetObject is lazy and would Stat (HEAD) first
// and then GET with If-Match, which fails when a concurrent Put lands in
// between. A missing key is classified right here, before any wrapping.
func (s *MinIOStore) Get(ctx context.Context, key string) (_ Object, err error) {
	defer s.metrics.observe(opGet, time.Now(), &err)
	if err := ValidKey(key); err != nil {
		return Object{}, fmt.Errorf("store get: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return Object{}, ctxError(opGet, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	body, info, _, err := minio.Core{Client: s.client}.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return Object{}, classifyMinIO(opGet, key, err)
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		return Object{}, classifyMinIO(opGet, key, err)
	}
	if int64(len(data)) != info.Size {
		return Object{}, fmt.Errorf("store get %s: read %d of %d bytes: %w", key, len(data), info.Size, ErrUnavailable)
	}
	return Object{Data: data, ContentType: info.ContentType, ModTime: info.LastModified, Size: info.Size, ETag: info.ETag}, nil
}

// Stat implements Store with one HEAD. A missing key is classified here.
func (s *MinIOStore) Stat(ctx context.Context, key string) (_ Object, err error) {
	defer s.metrics.observe(opStat, time.Now(), &err)
	if err := ValidKey(key); err != nil {
		return Object{}, fmt.Errorf("store stat: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return Object{}, ctxError(opStat, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	info, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return Object{}, classifyMinIO(opStat, key, err)
	}
	return Object{ContentType: info.ContentType, ModTime: info.LastModified, Size: info.Size, ETag: info.ETag}, nil
}

// Put implements Store. An S3 PUT is atomic: the object appears whole or not.
func (s *MinIOStore) Put(ctx context.Context, key string, data []byte, contentType string) (err error) {
	defer s.metrics.observe(opPut, time.Now(), &err)
	_, err = s.put(ctx, key, data, contentType, minio.PutObjectOptions{})
	return err
}

// PutIf implements Store with S3's conditional PUT (If-Match, or
// If-None-Match: *), which MinIO evaluates atomically.
func (s *MinIOStore) PutIf(ctx context.Context, key string, data []byte, contentType string, cond Condition) (_ string, err error) {
	defer s.metrics.observe(opPut, time.Now(), &err)
	if err := cond.valid(); err != nil {
		return "", err
	}
	var opts minio.PutObjectOptions
	if cond.IfNoneMatch {
		opts.SetMatchETagExcept("*")
	} else {
		opts.SetMatchETag(strings.Trim(cond.IfMatch, `"`))
	}
	etag, err := s.put(ctx, key, data, contentType, opts)
	if errors.Is(err, ErrNotFound) {
		// If-Match on a key that is gone: the object changed.
		return "", fmt.Errorf("store put %s: %w (the object is gone)", key, ErrPrecondition)
	}
	return etag, err
}

func (s *MinIOStore) put(ctx context.Context, key string, data []byte, contentType string, opts minio.PutObjectOptions) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", fmt.Errorf("store put: %w", err)
	}
	if err := validContentType(contentType); err != nil {
		return "", fmt.Errorf("store put %s: %w", key, err)
	}
	if contentType == "" {
		contentType = DefaultContentType
	}
	if err := ctx.Err(); err != nil {
		return "", ctxError(opPut, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	opts.ContentType = contentType
	info, err := s.client.PutObject(ctx, s.bucket, key, bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		return "", classifyMinIO(opPut, key, err)
	}
	return info.ETag, nil
}

// Delete implements Store. S3 reports success for a missing key.
func (s *MinIOStore) Delete(ctx context.Context, key string) (err error) {
	defer s.metrics.observe(opDelete, time.Now(), &err)
	if err := ValidKey(key); err != nil {
		return fmt.Errorf("store delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return ctxError(opDelete, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil
		}
		return classifyMinIO(opDelete, key, err)
	}
	return nil
}

// List implements Store. The whole listing shares one operation timeout.
func (s *MinIOStore) List(ctx context.Context, prefix string) (_ []string, err error) {
	defer s.metrics.observe(opList, time.Now(), &err)
	if err := ctx.Err(); err != nil {
		return nil, ctxError(opList, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel() // also stops minio-go's listing goroutine on an early return
	keys := []string{}
	for info := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if info.Err != nil {
			return nil, classifyMinIO(opList, prefix, info.Err)
		}
		keys = append(keys, info.Key)
	}
	if err := ctx.Err(); err != nil {
		return nil, classifyMinIO(opList, prefix, err)
	}
	sort.Strings(keys)
	return keys, nil
}

// ListPage implements Store with one listing request of up to limit keys
// (S3's StartAfter and MaxKeys).
func (s *MinIOStore) ListPage(ctx context.Context, prefix, after string, limit int) (_ []string, err error) {
	defer s.metrics.observe(opList, time.Now(), &err)
	if limit < 1 {
		return nil, fmt.Errorf("store list %q: limit %d: %w", prefix, limit, ErrInvalidKey)
	}
	if err := ctx.Err(); err != nil {
		return nil, ctxError(opList, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel() // stops minio-go's listing goroutine once the page is full
	keys := []string{}
	opts := minio.ListObjectsOptions{Prefix: prefix, Recursive: true, StartAfter: after, MaxKeys: min(limit, 1000)}
	for info := range s.client.ListObjects(ctx, s.bucket, opts) {
		if info.Err != nil {
			return nil, classifyMinIO(opList, prefix, info.Err)
		}
		keys = append(keys, info.Key)
		if len(keys) == limit {
			return keys, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, classifyMinIO(opList, prefix, err)
	}
	return keys, nil
}

// Ping implements Store: the bucket must exist and answer.
func (s *MinIOStore) Ping(ctx context.Context) (err error) {
	defer s.metrics.observe(opPing, time.Now(), &err)
	if err := ctx.Err(); err != nil {
		return ctxError(opPing, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	exists, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return classifyMinIO(opPing, s.bucket, err)
	}
	if !exists {
		return fmt.Errorf("store ping %s: bucket missing: %w", s.bucket, ErrUnavailable)
	}
	return nil
}

// classifyMinIO wraps a minio-go error with the store sentinel it means. It
// must see the error as minio-go returned it: ToErrorResponse does not look
// through wrapping.
func classifyMinIO(op, subject string, err error) error {
	if sentinel := minioSentinel(err); sentinel != nil {
		return fmt.Errorf("store %s %s: %w: %w", op, subject, sentinel, err)
	}
	return fmt.Errorf("store %s %s: %w", op, subject, err)
}

// minioSentinel returns ErrNotFound, ErrUnavailable, ErrTimeout or nil (for a
// cancelled caller and for errors that are none of these, like AccessDenied).
func minioSentinel(err error) error {
	if resp := minio.ToErrorResponse(err); resp.Code != "" || resp.StatusCode != 0 {
		switch {
		case resp.Code == minio.NoSuchKey:
			return ErrNotFound
		case resp.Code == "PreconditionFailed", resp.StatusCode == http.StatusPreconditionFailed:
			return ErrPrecondition
		case resp.Code == minio.NoSuchBucket, resp.StatusCode >= 500:
			return ErrUnavailable
		case resp.Code == "RequestTimeout":
			return ErrTimeout
		}
		return nil
	}
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return ErrTimeout
	case errors.Is(err, context.Canceled):
		return nil
	case errors.As(err, &netErr) && netErr.Timeout():
		return ErrTimeout
	}
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var urlErr *url.Error
	switch {
	case errors.As(err, &dnsErr), errors.As(err, &opErr), errors.As(err, &urlErr),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return ErrUnavailable
	}
	return nil
}
