package backfill

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeService answers POST /process and GET /jobs/J1 from a script: the
// answers of POST /process in turn (then 202 with job J1), and the states
// of the job in turn (the last one repeats).
type fakeService struct {
	posts []func(w http.ResponseWriter)
	jobs  []string // bodies of GET /jobs/J1

	submitted, polled atomic.Int32
	auth, query, body atomic.Value
}

func (f *fakeService) start(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/process":
			n := int(f.submitted.Add(1))
			b, _ := io.ReadAll(r.Body)
			f.auth.Store(r.Header.Get("Authorization"))
			f.query.Store(r.URL.RawQuery)
			f.body.Store(string(b))
			if n <= len(f.posts) {
				f.posts[n-1](w)
				return
			}
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"job_id":"J1"}`))
		case r.Method == http.MethodGet && r.URL.Path == "/jobs/J1":
			n := int(f.polled.Add(1))
			_, _ = w.Write([]byte(f.jobs[min(n, len(f.jobs))-1]))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func status(code int, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

func TestServerWarmer(t *testing.T) {
	t.Parallel()
	const running, succeeded = `{"state":"running"}`, `{"state":"succeeded"}`
	cases := []struct {
		name     string
		posts    []func(w http.ResponseWriter)
		jobs     []string
		wantCode string // "" = warmed
		polls    int    // at least
	}{
		{"succeeded after polling", nil, []string{running, running, succeeded}, "", 3},
		{"overloaded, retried after Retry-After", []func(w http.ResponseWriter){status(429, "")}, []string{succeeded}, "", 1},
		{"the job's own failure code", nil, []string{running, `{"state":"failed","error":{"code":"not_an_image","message":"the original is not a supported image"}}`}, "not_an_image", 2},
		{"a failed job without an error", nil, []string{`{"state":"failed"}`}, "internal", 1},
		{"a refused placeholder, with its reason", nil, []string{`{"state":"failed","error":{"code":"placeholder_image","message":"m","reason":"uniform"}}`}, "placeholder_image", 1},
		{"refused with the service's error body", []func(w http.ResponseWriter){status(401, `{"error":{"code":"unauthorized","message":"a bearer token is required"}}`)}, nil, "unauthorized", 0},
		{"refused without an error body", []func(w http.ResponseWriter){status(500, "boom")}, nil, "http_500", 0},
		{"202 without a job id", []func(w http.ResponseWriter){status(202, `{}`)}, nil, "bad_response", 0},
		{"an unreadable job", nil, []string{`not json`}, "bad_response", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeService{posts: tc.posts, jobs: tc.jobs}
			s, err := NewServerWarmer(f.start(t)+"/", true, "tok-1")
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.WarmRow(context.Background(), "B1", "http://h/1.jpg")
			code := ""
			if err != nil {
				code, _ = failureOf(err)
			}
			if code != tc.wantCode || (err == nil && got != Warmed) {
				t.Errorf("WarmRow = %v, %v (code %q); want code %q", got, err, code, tc.wantCode)
			}
			if reason, refused := refusalOf(err); refused != (tc.wantCode == "placeholder_image") || (refused && reason != "uniform") {
				t.Errorf("refusalOf(%v) = %q, %v; want reason uniform only for placeholder_image", err, reason, refused)
			}
			if n := int(f.polled.Load()); n < tc.polls {
				t.Errorf("GET /jobs/J1 %d times, want at least %d", n, tc.polls)
			}
			var body map[string]string
			_ = json.Unmarshal([]byte(f.body.Load().(string)), &body)
			if f.auth.Load() != "Bearer tok-1" || f.query.Load() != "refresh=true" || body["book_id"] != "B1" || body["image_url"] != "http://h/1.jpg" {
				t.Errorf("POST /process?%v with Authorization %q and body %v; want refresh=true, the bearer token and the row", f.query.Load(), f.auth.Load(), body)
			}
		})
	}
}

func TestServerWarmerUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	s, err := NewServerWarmer(base, false, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.WarmRow(context.Background(), "B1", "http://h/1.jpg")
	if code, _ := failureOf(err); code != "server_unreachable" {
		t.Errorf("WarmRow against a closed port = %v (code %q), want server_unreachable", err, code)
	}
}

func TestNewServerWarmerRefuses(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"ftp://127.0.0.1", "127.0.0.1:8000", "http://", "http://127.0.0.1/?a=1", "http://u:p@127.0.0.1", "::"} {
		_, err := NewServerWarmer(base, false, "")
		if !errors.Is(err, ErrSetting) || !strings.Contains(err.Error(), "--server must be an http(s) base URL") {
			t.Errorf("NewServerWarmer(%q) = %v, want an ErrSetting naming --server", base, err)
		}
	}
}
