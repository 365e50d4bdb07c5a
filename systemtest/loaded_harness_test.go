package systemtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bookcovers/image-worker/internal/loadloop"
	"github.com/bookcovers/image-worker/internal/replica"
	"github.com/bookcovers/image-worker/signing"
)

// loadedService is the real binary serving a local store, with Kafka on a
// kfake broker over loopback (so the consumer's metrics exist) and its peer
// list set to itself (so the peer metrics exist), and a way to put a short
// mixed load on it: cover misses (renders) and hits, metadata, placeholders,
// refused requests, jobs that succeed and fail, Kafka events that succeed
// and are dead-lettered.
type loadedService struct {
	rep    *replica.Replica
	src    *origin
	signer *signing.Signer
	kafka  *kgo.Client
	book   string

	mu    sync.Mutex
	round int
}

// startLoadedService starts the service and runs one round of load, checking
// that every request of it was answered as the README says.
func startLoadedService(t *testing.T) *loadedService {
	t.Helper()
	bin := replica.Build(t)
	const book = "PROM1"
	data, _ := importLocal(t, bin, book)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "book_enriched", "book_enriched.dlq", "book_cover_ready"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	brokers := strings.Join(cluster.ListenAddrs(), ",")
	src := newOrigin(t, 0)
	src.add("/cover.jpg", readTestdata(t, "photo-1600x2400-baseline.jpg"))
	internal := replica.FreeAddr(t)
	rep := replica.Start(t, bin, map[string]string{
		"DATA_DIR": data, "IMAGE_SIGNING_KEYS": testKeyHex, "LOG_LEVEL": "error", "SHUTDOWN_DELAY": "0s",
		"INTERNAL_ADDR":   internal,
		"GROUPCACHE_SELF": "http://" + internal, "GROUPCACHE_PEERS": "http://" + internal,
		"SOURCE_ALLOW_PRIVATE_HOSTS": src.hostPort(),
		"PRERENDER":                  "thumb.webp", // one small ladder per new cover
		"KAFKA_BROKERS":              brokers, "KAFKA_LAG_INTERVAL": "1s",
		"KAFKA_RETRY_BASE": "10ms", "KAFKA_RETRY_MAX": "50ms", "KAFKA_MAX_ATTEMPTS": "2",
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.DefaultProduceTopic("book_enriched"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	s := &loadedService{rep: rep, src: src, signer: signerOf(t, testKeyHex), kafka: cl, book: book}
	for _, p := range s.load() {
		if p != "" {
			t.Error(p)
		}
	}
	return s
}

func (s *loadedService) public(path string) string { return "http://" + s.rep.Public + path }
func (s *loadedService) signed(path string) string {
	return s.public(path + "?sig=" + s.signer.Sign(path, nil))
}
func (s *loadedService) metricsURL() string          { return "http://" + s.rep.Internal + "/metrics" }
func (s *loadedService) next() int                   { s.mu.Lock(); defer s.mu.Unlock(); s.round++; return s.round }
func (s *loadedService) coverURL(book string) string { return s.src.srv.URL + "/cover.jpg?" + book }

// load runs one round of the mixed load and returns what was not answered
// as expected (empty strings for what was). It never fails the test, so it
// may run in a goroutine.
func (s *loadedService) load() []string {
	i := s.next()
	check := func(what string, status int, err error, want ...int) string {
		if err != nil {
			return fmt.Sprintf("%s: %v", what, err)
		}
		for _, w := range want {
			if status == w {
				return ""
			}
		}
		return fmt.Sprintf("%s = %d, want %v", what, status, want)
	}
	client := &http.Client{Timeout: 30 * time.Second} // a stuck answer ends the round, never the test's cleanup
	get := func(u string) (int, error) {
		resp, err := client.Get(u)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	post := func(u, body string) (int, error) {
		resp, err := client.Post(u, "application/json", strings.NewReader(body))
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	var out []string
	format := "webp"
	if i%3 == 0 {
		format = "avif"
	}
	miss := fmt.Sprintf("/covers/%s/%d.%s", s.book, 200+i, format) // a new variant: rendered
	st, err := get(s.signed(miss))
	out = append(out, check("GET "+miss+" (miss)", st, err, 200))
	st, err = get(s.signed(miss))
	out = append(out, check("GET "+miss+" (hit)", st, err, 200))
	meta := "/covers/" + s.book + "/meta.json"
	st, err = get(s.signed(meta))
	out = append(out, check("GET "+meta, st, err, 200))
	holder := fmt.Sprintf("/covers/NOCOVER%d/160.webp", i)
	st, err = get(s.signed(holder))
	out = append(out, check("GET "+holder+" (placeholder)", st, err, 200))
	st, err = get(s.public(miss + "?sig=" + strings.Repeat("0", 64)))
	out = append(out, check("GET "+miss+" with a wrong signature", st, err, 403))
	st, err = get(s.public("/jobs/nosuchjob"))
	out = append(out, check("GET /jobs/nosuchjob", st, err, 404))
	job := fmt.Sprintf("PROMJOB%d", i)
	st, err = post(s.public("/process"), fmt.Sprintf(`{"book_id":%q,"image_url":%q}`, job, s.coverURL(job)))
	out = append(out, check("POST /process "+job, st, err, 202))
	st, err = post(s.public("/process"), fmt.Sprintf(`{"book_id":"%sX","image_url":%q}`, job, s.src.srv.URL+"/missing.jpg"))
	out = append(out, check("POST /process of a missing original", st, err, 202))
	st, err = post(s.public("/process"), `{"book_id":`)
	out = append(out, check("POST /process with a broken body", st, err, 400))
	ev := fmt.Sprintf("PROMEV%d", i)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = s.kafka.ProduceSync(ctx,
		&kgo.Record{Key: []byte(ev), Value: []byte(`{"book_id":` + strconv.Quote(ev) + `,"cover_image_url":` + strconv.Quote(s.coverURL(ev)) + `}`)},
		&kgo.Record{Key: []byte("BAD"), Value: []byte(`{not json`)},
	).FirstErr()
	if err != nil {
		out = append(out, fmt.Sprintf("produce events: %v", err))
	}
	return out
}

// keepLoading runs rounds of load until the test ends, about every interval.
func (s *loadedService) keepLoading(t *testing.T, interval time.Duration) {
	l := loadloop.Start(loadloop.Config{Workers: 1, Pause: interval}, func(loadloop.Call) string {
		s.load()
		return ""
	})
	t.Cleanup(func() { l.Stop() })
}
