package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/internal/testenv"
	"github.com/bookcovers/image-worker/signing"
)

// testKeyHex is the key of the README's signature test vectors.
const testKeyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

var groupSeq atomic.Int64

// countingStore counts reads by key prefix, so tests can prove how often an
// original was read.
type countingStore struct {
	cache.Store
	mu   sync.Mutex
	gets map[string]int
}

func newCountingStore(s cache.Store) *countingStore {
	return &countingStore{Store: s, gets: map[string]int{}}
}

func (c *countingStore) Get(ctx context.Context, key string) (cache.Object, error) {
	c.mu.Lock()
	c.gets[strings.SplitN(key, "/", 2)[0]]++
	c.mu.Unlock()
	return c.Store.Get(ctx, key)
}

func (c *countingStore) count(prefix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gets[prefix]
}

// source is an origin server on loopback that serves test files and counts requests.
type source struct {
	srv   *httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	redir map[string]string
	gates map[string]chan struct{}
	hits  map[string]int
}

func newSource(t *testing.T) *source {
	s := &source{files: map[string][]byte{}, redir: map[string]string{}, gates: map[string]chan struct{}{}, hits: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		b, ok := s.files[r.URL.Path]
		to, redirect := s.redir[r.URL.Path]
		gate := s.gates[r.URL.Path]
		s.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		if redirect {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(b)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *source) add(path string, b []byte) string {
	s.mu.Lock()
	s.files[path] = b
	s.mu.Unlock()
	return s.srv.URL + path
}

func (s *source) redirect(path, to string) string {
	s.mu.Lock()
	s.redir[path] = to
	s.mu.Unlock()
	return s.srv.URL + path
}

// delay holds answers for path until release is closed.
func (s *source) delay(path string, release chan struct{}) {
	s.mu.Lock()
	s.gates[path] = release
	s.mu.Unlock()
}

func (s *source) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

func (s *source) hostPort() string { return strings.TrimPrefix(s.srv.URL, "http://") }

// service is one running image-worker built by newApp, on loopback listeners.
type service struct {
	t        *testing.T
	app      *app
	store    *countingStore
	base     string
	internal string
	signer   *signing.Signer
	stop     func()
}

// startService builds and serves the app on store with env overrides.
func startService(t *testing.T, store cache.Store, src *source, overrides map[string]string) *service {
	t.Helper()
	vars := map[string]string{
		"IMAGE_SIGNING_KEYS": testKeyHex,
		"KAFKA_BROKERS":      "",
		"PRERENDER":          "", // on-demand renders only, unless a test asks
		"MANIFEST_TTL":       "1s",
		"LOG_LEVEL":          "error",
		"SHUTDOWN_DELAY":     "0s",
	}
	if src != nil {
		vars["SOURCE_ALLOW_PRIVATE_HOSTS"] = src.hostPort()
	}
	for k, v := range overrides {
		vars[k] = v
	}
	cfg, err := loadConfig(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	cfg.Variants.GroupName = fmt.Sprintf("covers-test-%d", groupSeq.Add(1))
	cs := newCountingStore(store)
	a, err := newApp(context.Background(), cfg, cs, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	pub, _ := net.Listen("tcp", "127.0.0.1:0")
	in, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.serve(ctx, pub, in) }()
	signer, err := signing.New(cfg.Signing)
	if err != nil && !cfg.Signing.Disabled {
		t.Fatalf("signing.New: %v", err)
	}
	s := &service{t: t, app: a, store: cs, base: "http://" + pub.Addr().String(), internal: "http://" + in.Addr().String(), signer: signer}
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve returned %v", err)
			}
		})
	}
	t.Cleanup(s.stop)
	return s
}

// startWarmed starts a service on a fresh local store and warms each book
// with its original, a testdata file served by a new source.
func startWarmed(t *testing.T, overrides map[string]string, books map[string]string) *service {
	t.Helper()
	src := newSource(t)
	svc := startService(t, localStore(t), src, overrides)
	for book, file := range books {
		svc.warm(book, src.add("/"+book+"/"+file, readTestdata(t, file)))
	}
	return svc
}

// signed returns the signed URL of a cover path.
func (s *service) signed(pathAndQuery string) string {
	s.t.Helper()
	u, err := s.signer.SignedURL(pathAndQuery)
	if err != nil {
		s.t.Fatalf("SignedURL(%q): %v", pathAndQuery, err)
	}
	return s.base + u
}

// do sends a request and returns the response with its body read.
func do(t *testing.T, method, u string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatalf("NewRequest(%s %s): %v", method, u, err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// process posts a warm request and returns the job id.
func (s *service) process(bookID, imageURL, query string) string {
	s.t.Helper()
	body := fmt.Sprintf(`{"book_id":%q,"image_url":%q}`, bookID, imageURL)
	resp, err := http.Post(s.base+"/process"+query, "application/json", strings.NewReader(body))
	if err != nil {
		s.t.Fatalf("POST /process: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		Message string `json:"message"`
		Stub    *bool  `json:"stub"`
		JobID   string `json:"job_id"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(b, &out) != nil || out.Message != "accepted" || out.Stub == nil || *out.Stub || out.JobID == "" {
		s.t.Fatalf("POST /process %s = %d %s, want 202 {message:accepted, stub:false, job_id}", bookID, resp.StatusCode, b)
	}
	return out.JobID
}

type jobView struct {
	JobID   string `json:"job_id"`
	BookID  string `json:"book_id"`
	State   string `json:"state"`
	Version string `json:"version"`
	Error   *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Reason  string `json:"reason"`
	} `json:"error"`
}

// waitJob polls GET /jobs/{id} until the job is finished.
func (s *service) waitJob(id string) jobView {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, b := do(s.t, http.MethodGet, s.base+"/jobs/"+id, nil)
		var j jobView
		if resp.StatusCode == http.StatusOK && json.Unmarshal(b, &j) == nil && (j.State == "succeeded" || j.State == "failed") {
			return j
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("job %s did not finish in 30s", id)
	return jobView{}
}

// warm processes a book and requires success.
func (s *service) warm(bookID, imageURL string) jobView {
	s.t.Helper()
	j := s.waitJob(s.process(bookID, imageURL, ""))
	if j.State != "succeeded" {
		s.t.Fatalf("job for %s = %+v, want succeeded", bookID, j)
	}
	return j
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/" + name)
	if err != nil {
		t.Fatalf("read testdata: %v", err)
	}
	return b
}

func randomBucket() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "covers-e2e-" + hex.EncodeToString(b[:])
}

// minioStore opens a fresh bucket on the test MinIO started by `make test`.
func minioStore(t *testing.T) cache.Store {
	t.Helper()
	env := testenv.MinIO(t)
	cfg := cache.DefaultMinIOConfig()
	cfg.Endpoint, cfg.AccessKey, cfg.SecretKey = env.Endpoint, env.AccessKey, env.SecretKey
	cfg.Bucket = randomBucket()
	s, err := cache.NewMinIOStore(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("NewMinIOStore: %v", err)
	}
	return s
}

func localStore(t *testing.T) cache.Store {
	s, err := cache.NewLocalStore(t.TempDir())
	if err != nil {
		t.Fatalf("NewLocalStore: %v", err)
	}
	return s
}
