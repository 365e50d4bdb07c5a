package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
	"github.com/bookcovers/image-worker/signing"
	"github.com/bookcovers/image-worker/transform"
)

func TestClassify(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("cover: render: %w", err) }
	cases := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"bad size", wrap(errBadSize), 400, "bad_size"},
		{"bad query", wrap(errBadQuery), 400, "bad_query"},
		{"non-canonical url", wrap(errNonCanonical), 400, "non_canonical_url"},
		{"book id", wrap(cover.ErrInvalidBookID), 400, "invalid_book_id"},
		{"bad expiry", wrap(signing.ErrBadExpiry), 400, "bad_expiry"},
		{"no bearer token", wrap(errTokenMissing), 401, "unauthorized"},
		{"wrong bearer token", wrap(errTokenWrong), 403, "forbidden"},
		{"missing sig", wrap(signing.ErrMissingSignature), 403, "missing_signature"},
		{"bad sig", wrap(signing.ErrBadSignature), 403, "bad_signature"},
		{"expired", wrap(signing.ErrExpired), 410, "expired"},
		{"no cover", wrap(errNoCover), 404, "no_cover"},
		{"original gone", wrap(cache.ErrNotFound), 404, "no_cover"},
		{"job", wrap(ingest.ErrJobNotFound), 404, "job_not_found"},
		{"body", wrap(errBodyTooLarge), 413, "body_too_large"},
		{"media", wrap(errUnsupportedMedia), 415, "unsupported_media_type"},
		{"render failed", wrap(transform.ErrRenderFailed), 422, "unusable_original"},
		{"pixels", wrap(transform.ErrTooManyPixels), 422, "unusable_original"},
		{"overloaded", wrap(transform.ErrOverloaded), 503, "overloaded"},
		{"queue full", wrap(ingest.ErrQueueFull), 503, "overloaded"},
		{"store down", wrap(cache.ErrUnavailable), 503, "storage_unavailable"},
		{"store timeout", wrap(cache.ErrTimeout), 504, "storage_timeout"},
		{"deadline", wrap(context.DeadlineExceeded), 504, "timeout"},
		{"client gone", wrap(context.Canceled), 499, "client_closed"},
		{"unknown", errors.New("boom"), 500, "internal"},
		{"panic", errPanic, 500, "internal"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := classify(c.err)
			if got.Status != c.status || got.Code != c.code || got.Message == "" {
				t.Errorf("classify(%v) = %+v, want %d %s", c.err, got, c.status, c.code)
			}
		})
	}
}

func TestWriteErrorHidesInternalsAndIsNotCached(t *testing.T) {
	h := &handlers{cfg: DefaultConfig(), log: slog.New(slog.DiscardHandler)}
	for _, err := range []error{
		fmt.Errorf("secret detail /var/lib/x: %w", transform.ErrOverloaded),
		errors.New("secret detail: boom"),
	} {
		rec := httptest.NewRecorder()
		h.writeError(rec, httptest.NewRequest(http.MethodGet, "/covers/B1/320.webp", nil), err)
		body, _ := io.ReadAll(rec.Body)
		if strings.Contains(string(body), "secret") {
			t.Errorf("body leaks internals: %s", body)
		}
		if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("headers = %v", rec.Header())
		}
		if rec.Code == 503 && rec.Header().Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
	}
}

func TestPanicBecomes500(t *testing.T) {
	h := &handlers{cfg: DefaultConfig(), log: slog.New(slog.DiscardHandler), set: newTestSet()}
	handle := h.wrap("boom", func(http.ResponseWriter, *http.Request, httprouterParams) error { panic("kaboom") })
	rec := httptest.NewRecorder()
	handle(rec, httptest.NewRequest(http.MethodGet, "/x", nil), nil)
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), `"internal"`) {
		t.Errorf("panic = %d %s, want 500 internal", rec.Code, rec.Body.String())
	}
}

// TestStatusTableAnswersEveryCode: every code of the one code set has a row
// of the status table, or is one the HTTP layer answers 500 internal on
// purpose; an error naming a code is answered with the row's status under
// the code itself or the broader code of its row, which has its own row
// with the same status, and with that code's fixed text.
func TestStatusTableAnswersEveryCode(t *testing.T) {
	t.Parallel()
	internal := map[cover.Code]bool{cover.CodeInternal: true, cover.CodeCanceled: true, cover.CodeBadEvent: true, cover.CodeOutcomeFailed: true}
	for _, c := range cover.Codes() {
		if _, ok := statusTable[c]; ok == internal[c] {
			t.Errorf("code %s: in the status table %v, answered internal on purpose %v; want exactly one", c, ok, internal[c])
		}
	}
	for c, a := range statusTable {
		want := c
		if a.as != "" {
			want = a.as
			if b, ok := statusTable[a.as]; !ok || b.status != a.status || b.as != "" {
				t.Errorf("code %s is answered as %s, whose row is %+v (present: %v); want a row of its own with status %d", c, a.as, b, ok, a.status)
			}
		}
		err := fmt.Errorf("cover: %w", cover.NewError(c, "secret detail"))
		if got := classify(err); got.Status != a.status || got.Code != string(want) || got.Message != want.Message() {
			t.Errorf("classify(error naming %s) = %+v, want %d %s %q", c, got, a.status, want, want.Message())
		}
	}
}
