package faultcheck

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
	"github.com/bookcovers/image-worker/signing"
)

// The topics and consumer group the service uses by default.
const (
	Topic   = "book_enriched"
	Results = "book_cover_ready"
	Group   = "image-worker"
)

// KafkaClient is a producer, reader and admin client of the broker at addr.
func KafkaClient(t testing.TB, addr string) (*kgo.Client, *kadm.Client) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl, kadm.NewClient(cl)
}

// ProduceCoverEvents writes one book_enriched event per book, synchronously.
func ProduceCoverEvents(t testing.TB, cl *kgo.Client, urls map[string]string) {
	t.Helper()
	var recs []*kgo.Record
	for book, u := range urls {
		v := `{"book_id":` + strconv.Quote(book) + `,"cover_image_url":` + strconv.Quote(u) + `}`
		recs = append(recs, &kgo.Record{Topic: Topic, Key: []byte(book), Value: []byte(v)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce %d events: %v", len(recs), err)
	}
}

// GroupLag is the end offsets of the topic minus the group's commits, summed.
func GroupLag(ctx context.Context, adm *kadm.Client, group, topic string) (int64, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, err
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return 0, err
	}
	var lag int64
	ends.Each(func(o kadm.ListedOffset) {
		c, ok := committed.Lookup(topic, o.Partition)
		if !ok || c.At < 0 {
			lag += o.Offset
			return
		}
		lag += o.Offset - c.At
	})
	return lag, nil
}

// HasCover reports whether GET answers the real cover (not a placeholder).
func HasCover(base string, signer *signing.Signer, book string) bool {
	path := "/covers/" + book + "/64.webp"
	resp, err := http.Get(base + path + "?sig=" + signer.Sign(path, nil))
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200 && resp.Header.Get("X-Cover-Placeholder") == ""
}

// ResultVersions reads book_cover_ready from the start: the versions of the
// succeeded results of each book, in order.
func ResultVersions(t testing.TB, addr string) map[string][]string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(Results),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, Results)
	if err != nil || ends.Error() != nil {
		t.Fatalf("end offsets of %s: %v %v", Results, err, ends.Error())
	}
	want := int64(0)
	ends.Each(func(o kadm.ListedOffset) { want += o.Offset })
	out := map[string][]string{}
	for got := int64(0); got < want; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: %d of %d records", Results, got, want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got++
			var ev struct {
				BookID  string `json:"book_id"`
				State   string `json:"state"`
				Version string `json:"version"`
			}
			if json.Unmarshal(r.Value, &ev) == nil && ev.State == "succeeded" {
				out[ev.BookID] = append(out[ev.BookID], ev.Version)
			}
		})
	}
	return out
}

// OneOriginalPerBook wants exactly one stored original per book: one
// reference (refs/{book}/), naming the manifest's content, whose original
// is stored and hashes to it and to the manifest's version, which is the
// book's last result event's.
func OneOriginalPerBook(t testing.TB, store cache.Store, books []string, results map[string][]string) {
	t.Helper()
	ctx := context.Background()
	manifests := cache.NewManifests(store, time.Millisecond, 5*time.Second)
	for _, book := range books {
		keys, err := store.List(ctx, cover.BookRefsPrefix(book))
		m, merr := manifests.Load(ctx, book)
		switch {
		case err != nil || merr != nil:
			t.Errorf("%s: list references: %v; manifest: %v", book, err, merr)
		case len(keys) != 1 || m.Content == "" || keys[0] != cover.RefKey(book, m.Content):
			t.Errorf("%s: references %v, manifest content %q version %s; want exactly that one", book, keys, m.Content, m.Version)
		case len(results[book]) == 0 || results[book][len(results[book])-1] != m.Version:
			t.Errorf("%s: result event versions %v, manifest %s; want the last result to name the manifest's version", book, results[book], m.Version)
		default:
			obj, err := store.Get(ctx, m.OriginalKey())
			if err != nil || cover.ContentSum(obj.Data) != m.Content || ingest.Version(obj.Data) != m.Version {
				t.Errorf("%s: stored original does not hash to its content %s and version %s (%v)", book, m.Content, m.Version, err)
			}
		}
	}
}

// OutboxLen counts the write-backs queued in store.
func OutboxLen(t testing.TB, store cache.Store) int {
	t.Helper()
	keys, err := store.List(context.Background(), cache.OutboxPrefix())
	if err != nil {
		t.Fatalf("List(outbox/): %v", err)
	}
	return len(keys)
}
