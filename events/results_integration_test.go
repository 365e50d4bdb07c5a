package events

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
	"github.com/twmb/franz-go/pkg/kfake"
)

func TestResultsFailedPublishesTheJobFailure(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, testResult))
	cfg := testConfig(c)
	cl, _ := newClient(t, c)
	r := NewResults(cl, cfg)
	fixed := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	r.now = func() time.Time { return fixed }

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Failed(ctx, Failure{JobID: "job-7", BookID: "book-1", SourceURL: "https://img.example/c.jpg", Code: cover.CodeNotAnImage}); err != nil {
		t.Fatalf("Failed: %v", err)
	}
	recs := readTopic(t, c, testResult)
	if len(recs) != 1 || string(recs[0].Key) != "book-1" {
		t.Fatalf("result topic = %d records (first key %q), want 1 keyed book-1", len(recs), keyOf(recs))
	}
	var got map[string]any
	if err := json.Unmarshal(recs[0].Value, &got); err != nil {
		t.Fatalf("result %s: %v", recs[0].Value, err)
	}
	want := map[string]any{
		"book_id": "book-1", "state": "failed", "job_id": "job-7", "source_url": "https://img.example/c.jpg",
		"source_url_sha256": "6bbdc473c1640bf6e010bc2e35a8dfff99336393e31e3b2b572b206e152f793c", // sha256sum of the URL
		"error":             map[string]any{"code": "not_an_image", "message": "the original is not a supported image"},
		"processed_at":      "2030-01-02T03:04:05Z",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("failed result = %v, want %v", got, want)
	}
	if n := r.published[stateFailed].Get(); n != 1 {
		t.Errorf("results_published_total{failed} = %d, want 1", n)
	}
}

// A result topic that cannot be written makes Succeeded fail, which the
// consumer treats as retryable.
func TestResultsErrorWhenTopicMissing(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, testTopic))
	cfg := testConfig(c)
	cl, _ := newClient(t, c)
	r := NewResults(cl, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Failed(ctx, Failure{JobID: "j", BookID: "book-1", SourceURL: "u", Code: cover.CodeTimeout}); err == nil {
		t.Fatalf("Failed to a missing topic = nil, want an error")
	}
	if n := r.errs.Get(); n != 1 {
		t.Errorf("result_errors_total = %d, want 1", n)
	}
}

// TestResultsPublishNoSecrets: both result events of a source URL with
// userinfo and a query carry the URL without them, and the hash of the full
// URL so a consumer can still match the URL it sent.
func TestResultsPublishNoSecrets(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, testResult))
	cl, _ := newClient(t, c)
	r := NewResults(cl, testConfig(c))
	const full = "https://reader:pa55w0rd@img.example:8443/c.jpg?X-Amz-Signature=deadbeef&api_token=s3cr3t"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := cover.Manifest{BookID: "book-1", Version: "0123456789ab", SourceURL: full, ContentType: "image/jpeg",
		Width: 10, Height: 15, Bytes: 99, UpdatedAt: time.Unix(1_800_000_000, 0)}
	if err := r.Succeeded(ctx, m); err != nil {
		t.Fatalf("Succeeded: %v", err)
	}
	if err := r.Failed(ctx, Failure{JobID: "job-7", BookID: "book-1", SourceURL: full, Code: cover.CodeNotAnImage}); err != nil {
		t.Fatalf("Failed: %v", err)
	}
	recs := readTopic(t, c, testResult)
	if len(recs) != 2 {
		t.Fatalf("result topic = %d records, want 2", len(recs))
	}
	for _, rec := range recs {
		v := string(rec.Value)
		for _, secret := range []string{"reader", "pa55w0rd", "X-Amz-Signature", "deadbeef", "api_token", "s3cr3t", "@"} {
			if strings.Contains(v, secret) {
				t.Errorf("result event contains %q: %s", secret, v)
			}
		}
		var got struct {
			State     string `json:"state"`
			SourceURL string `json:"source_url"`
			Hash      string `json:"source_url_sha256"`
		}
		if err := json.Unmarshal(rec.Value, &got); err != nil {
			t.Fatalf("result %s: %v", v, err)
		}
		if got.SourceURL != "https://img.example:8443/c.jpg" || got.Hash != sha256Hex(full) {
			t.Errorf("%s event source_url, source_url_sha256 = %q, %q; want the public form and the hash of the full URL", got.State, got.SourceURL, got.Hash)
		}
	}
}

// sha256Hex is the lowercase hex SHA-256 of s, as sha256sum prints it.
func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestResultsCarryTheCoverMetadata: a success carries the manifest's
// width, height, dominant colour and blurhash and cover_status ok; a
// refusal outside a job carries its code, reason and cover_status and no
// job_id.
func TestResultsCarryTheCoverMetadata(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, testResult))
	cl, _ := newClient(t, c)
	r := NewResults(cl, testConfig(c))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := cover.Manifest{BookID: "book-1", Version: "0123456789ab", SourceURL: "https://img.example/c.jpg", ContentType: "image/jpeg",
		Width: 1600, Height: 2400, Bytes: 99, UpdatedAt: time.Unix(1_800_000_000, 0), DominantColor: "#a66938", BlurHash: "TDGtl|9brW3Xs+ENj^XSxY~8NKjE"}
	if err := r.Succeeded(ctx, m); err != nil {
		t.Fatalf("Succeeded: %v", err)
	}
	refusal := ingest.Refusal{BookID: "book-2", SourceURL: "https://img.example/none.gif", Code: cover.CodePlaceholderImage,
		Reason: ingest.ReasonUniform, Status: ingest.CoverPlaceholder, At: time.Unix(1_800_000_000, 0)}
	if err := r.Refused(ctx, refusal); err != nil {
		t.Fatalf("Refused: %v", err)
	}
	recs := readTopic(t, c, testResult)
	if len(recs) != 2 {
		t.Fatalf("result topic = %d records, want 2", len(recs))
	}
	var ok, failed map[string]any
	if err := errors.Join(json.Unmarshal(recs[0].Value, &ok), json.Unmarshal(recs[1].Value, &failed)); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"width": float64(1600), "height": float64(2400), "dominant_color": "#a66938",
		"blurhash": "TDGtl|9brW3Xs+ENj^XSxY~8NKjE", "cover_status": "ok"} {
		if ok[k] != want {
			t.Errorf("succeeded event %s = %v, want %v", k, ok[k], want)
		}
	}
	wantErr := map[string]any{"code": "placeholder_image", "message": cover.CodePlaceholderImage.Message(), "reason": "uniform"}
	if _, hasJob := failed["job_id"]; hasJob || failed["state"] != "failed" || failed["cover_status"] != "placeholder" || !reflect.DeepEqual(failed["error"], wantErr) {
		t.Errorf("refusal event = %v; want state failed, no job_id, cover_status placeholder, error %v", failed, wantErr)
	}
}
