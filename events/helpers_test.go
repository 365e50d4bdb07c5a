package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
	"github.com/bookcovers/image-worker/transform"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	testTopic  = "book_enriched"
	testDLQ    = "book_enriched.dlq"
	testResult = "book_cover_ready"
	testBucket = "covers-test"
	testPhoto  = "../testdata/photo-1600x2400-baseline.jpg"
)

var discard = slog.New(slog.DiscardHandler)

// newCluster starts a one-broker kfake cluster on 127.0.0.1 for one test.
func newCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatalf("kfake.NewCluster: %v", err)
	}
	t.Cleanup(c.Close)
	for _, a := range c.ListenAddrs() {
		ap, err := netip.ParseAddrPort(a)
		if err != nil || !ap.Addr().IsLoopback() {
			t.Fatalf("kfake listens on %q, want a loopback IP literal", a)
		}
	}
	return c
}

// testConfig is a config for cluster c with fast retries.
func testConfig(c *kfake.Cluster) Config {
	cfg := DefaultConfig()
	cfg.Brokers = c.ListenAddrs()
	cfg.Topic, cfg.DLQTopic, cfg.ResultTopic = testTopic, testDLQ, testResult
	cfg.Bucket = testBucket
	cfg.RetryBase, cfg.RetryMax, cfg.MaxAttempts = 10*time.Millisecond, 40*time.Millisecond, 3
	cfg.LagInterval = 50 * time.Millisecond
	cfg.ShutdownGrace = 5 * time.Second
	return cfg
}

// testOpts make the clients react fast on a local broker.
func testOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.FetchMaxWait(100 * time.Millisecond),
		kgo.MetadataMinAge(50 * time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }),
	}
}

// newClient is a plain client of cluster c for producing, reading and admin.
func newClient(t *testing.T, c *kfake.Cluster, opts ...kgo.Opt) (*kgo.Client, *kadm.Client) {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, append(testOpts(), opts...)...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl, kadm.NewClient(cl)
}

// produce writes records synchronously.
func produce(t *testing.T, cl *kgo.Client, recs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce %d records: %v", len(recs), err)
	}
}

func event(bookID, url string) *kgo.Record {
	v := `{"book_id":` + strconv.Quote(bookID) + `,"cover_image_url":` + strconv.Quote(url) + `,"title":"ignored"}`
	return &kgo.Record{Topic: testTopic, Key: []byte(bookID), Value: []byte(v)}
}

// raw is a record of the consumed topic with any key and value ("" key = none).
func raw(key, value string) *kgo.Record {
	r := &kgo.Record{Topic: testTopic, Value: []byte(value)}
	if key != "" {
		r.Key = []byte(key)
	}
	return r
}

// readTopic returns every record of topic up to its current end offsets.
func readTopic(t *testing.T, c *kfake.Cluster, topic string) []*kgo.Record {
	t.Helper()
	_, adm := newClient(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	want := map[int32]int64{}
	offsets := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
			offsets[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if len(want) == 0 {
		return nil
	}
	cl, _ := newClient(t, c, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	var out []*kgo.Record
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: still missing %v after %d records", topic, want, len(out))
		}
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			if r.Offset+1 >= want[r.Partition] {
				delete(want, r.Partition)
			}
		})
	}
	return out
}

// committed returns the group's committed offset of a partition, -1 if none.
func committed(t *testing.T, adm *kadm.Client, group, topic string, p int32) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	os, err := fetchCommitted(ctx, adm, group, topic)
	if err != nil {
		t.Fatalf("fetch offsets of %s: %v", group, err)
	}
	if o, ok := os.Lookup(topic, p); ok && o.Err == nil {
		return o.At
	}
	return -1
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// running is a consumer whose Run goroutine the test stops.
type running struct {
	*Consumer
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// startConsumer builds and runs a consumer; cleanup stops and closes it.
func startConsumer(t *testing.T, cfg Config, warm Warmer, outcomes Outcomes, opts ...kgo.Opt) *running {
	t.Helper()
	c, err := NewConsumer(cfg, warm, outcomes, discard, append(testOpts(), opts...)...)
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Consumer: c, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run, waits for it and closes the clients.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("Run did not return within 30s of cancel")
		}
		r.Close()
	})
}

// fakeWarmer answers Warm with fn and counts calls.
type fakeWarmer struct {
	calls atomic.Int64
	fn    func(ctx context.Context, bookID, url string) (cover.Manifest, error)
}

func (f *fakeWarmer) Warm(ctx context.Context, bookID, url string, _ bool, _ time.Time) (cover.Manifest, error) {
	f.calls.Add(1)
	if f.fn == nil {
		return cover.Manifest{BookID: bookID, Version: "v1", SourceURL: url}, nil
	}
	return f.fn(ctx, bookID, url)
}

// recordingOutcomes remembers the manifests and refusals it was told about.
type recordingOutcomes struct {
	mu      sync.Mutex
	got     []cover.Manifest
	refused []ingest.Refusal
}

func (o *recordingOutcomes) Refused(_ context.Context, r ingest.Refusal) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.refused = append(o.refused, r)
	return nil
}

func (o *recordingOutcomes) Succeeded(_ context.Context, m cover.Manifest) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, m)
	return nil
}

func (o *recordingOutcomes) books() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var ids []string
	for _, m := range o.got {
		ids = append(ids, m.BookID)
	}
	return ids
}

// origin is a loopback image origin whose answers the test scripts.
type origin struct {
	srv      *httptest.Server
	requests atomic.Int64
	photo    []byte
	// answer returns the status of request n (1-based); 200 serves the photo.
	answer func(n int64) int
}

func newOrigin(t *testing.T, answer func(n int64) int) *origin {
	t.Helper()
	photo, err := os.ReadFile(testPhoto)
	if err != nil {
		t.Fatalf("read %s: %v", testPhoto, err)
	}
	o := &origin{photo: photo, answer: answer}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := o.requests.Add(1)
		switch status := o.answer(n); status {
		case http.StatusOK:
			w.Header().Set("Content-Type", "image/jpeg")
			_, _ = w.Write(o.photo)
		case 299: // a 200 that is not an image
			w.Header().Set("Content-Type", "image/jpeg")
			_, _ = w.Write([]byte("<html>not an image</html>"))
		default:
			w.WriteHeader(status)
		}
	}))
	t.Cleanup(o.srv.Close)
	if host, _, _ := net.SplitHostPort(o.srv.Listener.Addr().String()); host != "127.0.0.1" {
		t.Fatalf("origin listens on %s, want 127.0.0.1", host)
	}
	return o
}

func (o *origin) url(path string) string { return o.srv.URL + path }

// realWarm is the real warm pipeline on a local store, allowed to fetch
// from the origin only; the fetcher does not retry, so retries are the
// consumer's.
type realWarm struct {
	*ingest.Warmer
	store *cache.LocalStore
}

func newRealWarm(t *testing.T, o *origin) *realWarm {
	t.Helper()
	store, err := cache.NewLocalStore(t.TempDir())
	if err != nil {
		t.Fatalf("NewLocalStore: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return &realWarm{Warmer: newWarmer(t, o.srv.Listener.Addr().String(), store), store: store}
}

// newWarmer is one replica's warm pipeline over store (its own manifest
// cache), allowed to fetch from the loopback origin at addr only, once per
// attempt.
func newWarmer(t *testing.T, addr string, store cache.Store) *ingest.Warmer {
	t.Helper()
	fc := ingest.DefaultFetchConfig()
	fc.AllowPrivate = []string{addr}
	fc.MaxAttempts = 1
	fc.Timeout, fc.AttemptTimeout = 5*time.Second, 5*time.Second
	fetcher, err := ingest.NewFetcher(fc, discard)
	if err != nil {
		t.Fatalf("NewFetcher: %v", err)
	}
	t.Cleanup(fetcher.Close)
	manifests := cache.NewManifests(store, time.Second, 5*time.Second)
	return ingest.NewWarmer(fetcher, store, manifests, headerCheck{}, discard)
}

// headerCheck is the header half of the service's original check
// (transform.CheckOriginal, no decode): these tests are about Kafka, and
// the decode runs in render worker processes that this package's tests do
// not start.
type headerCheck struct{}

func (headerCheck) Check(_ context.Context, original []byte) (transform.Checked, error) {
	info, err := transform.CheckOriginal(original, 50_000_000)
	return transform.Checked{Info: info}, err
}

// header returns the value of a record header, failing when it is absent.
func header(t *testing.T, r *kgo.Record, key string) string {
	t.Helper()
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	t.Fatalf("record at %s/%d/%d has no header %q (headers %v)", r.Topic, r.Partition, r.Offset, key, r.Headers)
	return ""
}

// errPassing is a retryable warm failure; errPermanent is not.
var (
	errPassing   = fmt.Errorf("test: store down: %w", cache.ErrUnavailable)
	errPermanent = fmt.Errorf("test: %w", transform.ErrNotAnImage)
)

func keyOf(recs []*kgo.Record) string {
	if len(recs) == 0 {
		return ""
	}
	return string(recs[0].Key)
}

// flakyOutcomes fails its first failures calls.
type flakyOutcomes struct {
	failures int64
	calls    atomic.Int64
}

func (o *flakyOutcomes) Succeeded(context.Context, cover.Manifest) error {
	if o.calls.Add(1) <= o.failures {
		return errors.New("test: catalog down")
	}
	return nil
}

func (o *flakyOutcomes) Refused(ctx context.Context, _ ingest.Refusal) error {
	return o.Succeeded(ctx, cover.Manifest{})
}
