package proxy

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
)

const v2Body = `{"book_id":"B123","image_url":"https://images.example.com/b123.jpg"}`

func postV2(h http.Handler, target, ctype, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestProcessV2Succeeds(t *testing.T) {
	t.Parallel()
	for _, listener := range []string{"public", "internal"} {
		t.Run(listener, func(t *testing.T) {
			t.Parallel()
			f := newMetaFixture(t, false, nil)
			h := f.public
			if listener == "internal" {
				h = f.internal
			}
			rec := postV2(h, "/v2/process?refresh=true", "application/json", v2Body)
			if rec.Code != 200 || rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("POST /v2/process = %d, %v, %s; want 200 JSON no-store", rec.Code, rec.Header(), rec.Body)
			}
			checkMetaBody(t, f, rec.Body.Bytes(), true)
			if got := f.jobs.submits; len(got) != 1 || got[0] != "B123 https://images.example.com/b123.jpg refresh=true" {
				t.Errorf("submitted %v, want the body's book and URL with refresh", got)
			}
		})
	}
}

func TestProcessV2FailedJobs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code   string
		status int
	}{
		{"invalid_url", 400}, {"blocked_address", 400},
		{"not_an_image", 422}, {"unsupported_type", 422}, {"too_many_pixels", 422}, {"too_large", 422},
		{"source_rejected", 502}, {"fetch_failed", 502}, {"too_many_redirects", 502},
		{"timeout", 504}, {"storage_unavailable", 503}, {"internal", 500},
	}
	for _, c := range cases {
		t.Run(c.code, func(t *testing.T) {
			t.Parallel()
			f := newMetaFixture(t, false, nil)
			f.jobs.final = ingest.Job{ID: testJobID, BookID: "B123", State: ingest.JobFailed,
				Error: &ingest.JobError{Code: c.code, Message: cover.Code(c.code).Message()}}
			rec := postV2(f.public, "/v2/process", "application/json", v2Body)
			var e errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
				t.Fatalf("body %s: %v", rec.Body, err)
			}
			if rec.Code != c.status || e.Error.Code != c.code || e.Error.Message != cover.Code(c.code).Message() || e.JobID != testJobID {
				t.Errorf("failed job %s: %d %+v, want %d with the code, its message and job_id", c.code, rec.Code, e, c.status)
			}
			if (c.status == 503) != (rec.Header().Get("Retry-After") != "") {
				t.Errorf("failed job %s: Retry-After %q", c.code, rec.Header().Get("Retry-After"))
			}
			if rec.Header().Get("Location") != "" || f.metas.calls.Load() != 0 {
				t.Errorf("failed job %s: Location %q, %d metadata computations; want none", c.code, rec.Header().Get("Location"), f.metas.calls.Load())
			}
		})
	}
}

func TestProcessV2NotFinishedInTime(t *testing.T) {
	t.Parallel()
	f := newMetaFixture(t, false, func(d *Deps) { d.ProcessWait = 50 * time.Millisecond })
	f.jobs.hold = make(chan struct{})
	defer close(f.jobs.hold)
	start := time.Now()
	rec := postV2(f.public, "/v2/process", "application/json", v2Body)
	var e errorBody
	_ = json.Unmarshal(rec.Body.Bytes(), &e)
	if rec.Code != 504 || e.Error.Code != "timeout" || e.JobID != testJobID || rec.Header().Get("Location") != "/jobs/"+testJobID {
		t.Errorf("unfinished job = %d %+v, Location %q; want 504 timeout with job_id and Location /jobs/%s", rec.Code, e, rec.Header().Get("Location"), testJobID)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("answered after %v, want about the 50ms wait", d)
	}
}

func TestProcessV2ClientGone(t *testing.T) {
	t.Parallel()
	f := newMetaFixture(t, false, nil)
	f.jobs.hold = make(chan struct{})
	defer close(f.jobs.hold)
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/v2/process", strings.NewReader(v2Body))
	r.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	time.AfterFunc(20*time.Millisecond, cancel)
	f.public.ServeHTTP(rec, r)
	if rec.Code != statusClientClosed || rec.Header().Get("Location") != "" {
		t.Errorf("client gone while waiting = %d, Location %q; want 499 without Location", rec.Code, rec.Header().Get("Location"))
	}
}

func TestProcessV2RefusesLikeProcess(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, ctype, body string
		submitErr         error
		status            int
		code              string
	}{
		{"not JSON", "text/plain", v2Body, nil, 415, "unsupported_media_type"},
		{"malformed", "application/json", `{"book_id":`, nil, 400, "bad_json"},
		{"missing field", "application/json", `{"book_id":"B1"}`, nil, 400, "missing_field"},
		{"too large", "application/json", `{"book_id":"B1","image_url":"` + strings.Repeat("a", 70<<10) + `"}`, nil, 413, "body_too_large"},
		{"invalid url", "application/json", v2Body, ingest.ErrInvalidURL, 400, "invalid_url"},
		{"queue full", "application/json", v2Body, ingest.ErrQueueFull, 503, "overloaded"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newMetaFixture(t, false, nil)
			f.jobs.submitErr = c.submitErr
			rec := postV2(f.public, "/v2/process", c.ctype, c.body)
			var e errorBody
			_ = json.Unmarshal(rec.Body.Bytes(), &e)
			if rec.Code != c.status || e.Error.Code != c.code || e.JobID != "" {
				t.Errorf("POST /v2/process %s = %d %+v, want %d %s without job_id", c.name, rec.Code, e, c.status, c.code)
			}
			// The same request to /process answers the same error.
			v1 := postV2(f.public, "/process", c.ctype, c.body)
			if v1.Code != rec.Code {
				t.Errorf("POST /process %s = %d, /v2/process = %d; want the same", c.name, v1.Code, rec.Code)
			}
		})
	}
}

func TestClassifyJobCodes(t *testing.T) {
	t.Parallel()
	for code, a := range statusTable {
		got := classify(&jobError{JobID: testJobID, Code: code, Message: code.Message()})
		if got.Code != string(code) || got.Status != a.status || got.Message == "internal error" {
			t.Errorf("classify(job %s) = %+v, want %d with its own message", code, got, a.status)
		}
	}
	if got := classify(&jobError{Code: "no_such_code"}); got != errInternal {
		t.Errorf("classify(unknown job code) = %+v, want internal", got)
	}
}
