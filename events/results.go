package events

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Outcomes is told about each success, and each refusal (a placeholder, or
// a source without the picture for a book without a cover), before the
// record's offset is committed. An error from it is retryable: the record
// is retried with backoff (at-least-once), so implementations must tolerate
// repeats.
type Outcomes interface {
	Succeeded(ctx context.Context, m cover.Manifest) error
	Refused(ctx context.Context, r ingest.Refusal) error
}

// Result states.
const (
	stateSucceeded = "succeeded"
	stateFailed    = "failed"
)

// succeededEvent is the JSON of a success on the result topic. Like every
// published record it carries the source URL without userinfo, query and
// fragment (cache.PublicSourceURL) and the hash of the full URL.
type succeededEvent struct {
	BookID            string `json:"book_id"`
	State             string `json:"state"`
	Version           string `json:"version"`
	SourceURL         string `json:"source_url"`
	SourceURLSHA256   string `json:"source_url_sha256"`
	StorageURL        string `json:"storage_url"`
	Width             int    `json:"width"`
	Height            int    `json:"height"`
	Bytes             int64  `json:"bytes"`
	ContentType       string `json:"content_type"`
	ProcessedAt       string `json:"processed_at"`
	VersionTime       string `json:"version_time"` // orders a book's results: a later one names a newer cover
	CoverPathTemplate string `json:"cover_path_template"`
	// DominantColor and BlurHash, computed at ingest, let a page paint
	// before the image arrives; absent for a cover stored before they were.
	DominantColor string `json:"dominant_color,omitempty"`
	BlurHash      string `json:"blurhash,omitempty"`
	CoverStatus   string `json:"cover_status"` // always "ok"
}

// failedEvent is the JSON of a failure on the result topic: a failed job,
// or a Kafka event whose original was refused as a placeholder.
type failedEvent struct {
	BookID          string      `json:"book_id"`
	State           string      `json:"state"`
	JobID           string      `json:"job_id,omitempty"` // absent outside a job
	SourceURL       string      `json:"source_url"`
	SourceURLSHA256 string      `json:"source_url_sha256"`
	Error           resultError `json:"error"`
	ProcessedAt     string      `json:"processed_at"`
	// CoverStatus is missing or placeholder when the book holds no cover and
	// the catalog's cover_status says so; absent when it keeps its cover.
	CoverStatus string `json:"cover_status,omitempty"`
}

type resultError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Reason  string `json:"reason,omitempty"` // placeholder_image: tiny, uniform, known or aspect
}

// Failure is what a failed result event reports.
type Failure struct {
	JobID     string // "" outside a POST /process job
	BookID    string
	SourceURL string // as submitted: published redacted and hashed
	Code      cover.Code
	Reason    string // of a refused placeholder
	// CoverStatus is the status the catalog is given (missing,
	// placeholder), "" when the book keeps its cover.
	CoverStatus string
}

// Results publishes result events, keyed by book id, to the result topic.
// Each publish is synchronous: when a method returns nil the event is written.
// With no result topic every method is a no-op returning nil; so is a nil
// *Results.
type Results struct {
	client *kgo.Client
	topic  string
	bucket string
	now    func() time.Time

	set       *metrics.Set
	published map[string]*metrics.Counter
	errs      *metrics.Counter
}

// NewResults returns a publisher writing through client (see NewProducer).
func NewResults(client *kgo.Client, cfg Config) *Results {
	set := metrics.NewSet()
	return &Results{
		client: client,
		topic:  cfg.ResultTopic,
		bucket: cfg.Bucket,
		now:    time.Now,
		set:    set,
		published: map[string]*metrics.Counter{
			stateSucceeded: set.NewCounter(`covers_kafka_results_published_total{state="succeeded"}`),
			stateFailed:    set.NewCounter(`covers_kafka_results_published_total{state="failed"}`),
		},
		errs: set.NewCounter("covers_kafka_result_errors_total"),
	}
}

// Metrics returns the publisher's metrics (an empty set for a nil Results).
func (r *Results) Metrics() *metrics.Set {
	if r == nil {
		return metrics.NewSet()
	}
	return r.set
}

// CoverPathTemplate is the unsigned cover path of a version, with {size} and
// {format} left for the reader to fill in.
func CoverPathTemplate(bookID, version string) string {
	return "/covers/" + bookID + "/{size}.{format}?v=" + version
}

// Succeeded publishes the success of a book's current version.
func (r *Results) Succeeded(ctx context.Context, m cover.Manifest) error {
	if r == nil || r.topic == "" {
		return nil
	}
	width, height := m.RenderSize() // the trim box's, when the cover has one
	return r.publish(ctx, stateSucceeded, m.BookID, succeededEvent{
		BookID:            m.BookID,
		State:             stateSucceeded,
		Version:           m.Version,
		SourceURL:         cache.PublicSourceURL(m.SourceURL),
		SourceURLSHA256:   cache.SourceURLSHA256(m.SourceURL),
		StorageURL:        cover.StorageURL(r.bucket, m.OriginalKey()), // by content, or under the book for an old manifest
		Width:             width,
		Height:            height,
		Bytes:             m.Bytes,
		ContentType:       m.ContentType,
		ProcessedAt:       m.UpdatedAt.UTC().Format(time.RFC3339),
		VersionTime:       m.Order().UTC().Format(time.RFC3339Nano),
		CoverPathTemplate: CoverPathTemplate(m.BookID, m.Version),
		DominantColor:     m.DominantColor,
		BlurHash:          m.BlurHash,
		CoverStatus:       string(ingest.CoverOK),
	})
}

// Failed publishes a failure (a POST /process job, a refused placeholder)
// so the catalog can show it, with the code's fixed public text.
func (r *Results) Failed(ctx context.Context, f Failure) error {
	if r == nil || r.topic == "" {
		return nil
	}
	return r.publish(ctx, stateFailed, f.BookID, failedEvent{
		BookID:          f.BookID,
		State:           stateFailed,
		JobID:           f.JobID,
		SourceURL:       cache.PublicSourceURL(f.SourceURL),
		SourceURLSHA256: cache.SourceURLSHA256(f.SourceURL),
		Error:           resultError{Code: string(f.Code), Message: f.Code.Message(), Reason: f.Reason},
		ProcessedAt:     r.now().UTC().Format(time.RFC3339),
		CoverStatus:     f.CoverStatus,
	})
}

// Refused publishes a refusal (Outcomes) as a failed result.
func (r *Results) Refused(ctx context.Context, rf ingest.Refusal) error {
	return r.Failed(ctx, refusalFailure(rf))
}

// refusalFailure is the failed result of a refusal.
func refusalFailure(r ingest.Refusal) Failure {
	return Failure{BookID: r.BookID, SourceURL: r.SourceURL, Code: r.Code, Reason: string(r.Reason), CoverStatus: string(r.Status)}
}

func (r *Results) publish(ctx context.Context, state, bookID string, event any) error {
	value, err := json.Marshal(event)
	if err != nil {
		return fmt.Errorf("publish result: encode: %w", err)
	}
	rec := &kgo.Record{Topic: r.topic, Key: []byte(bookID), Value: value}
	if err := r.client.ProduceSync(ctx, rec).FirstErr(); err != nil {
		r.errs.Inc()
		return fmt.Errorf("publish result %s of %s: %w", state, bookID, err)
	}
	r.published[state].Inc()
	return nil
}
