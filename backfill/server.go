package backfill

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bookcovers/image-worker/cover"
)

// Budgets of --server mode.
const (
	serverRowTimeout     = 5 * time.Minute  // submit plus wait, per row (jobs retry storage faults)
	serverRequestTimeout = 30 * time.Second // one HTTP request
	serverMaxRetryAfter  = 30 * time.Second // longest honoured Retry-After
	serverPollMin        = 25 * time.Millisecond
	serverPollMax        = time.Second
	serverMaxPollErrors  = 5 // consecutive failed polls before a row gives up
)

// ServerWarmer warms rows through a running service: POST /process (with
// the bearer token PROCESS_TOKEN when set), then GET /jobs/{id} until the
// job is finished. 429 and 503 are retried after Retry-After. The service
// skips books already at the same URL itself, so in this mode such rows
// count as warmed.
type ServerWarmer struct {
	base    string
	client  *http.Client
	refresh bool
	token   string
	timeout time.Duration
}

// NewServerWarmer warms through the service at base, an http(s) URL
// without query or user info (else an ErrSetting); refresh asks it to
// download every original again; token, when set, is sent as the bearer
// token of POST /process.
func NewServerWarmer(base string, refresh bool, token string) (*ServerWarmer, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return nil, settingError("--server must be an http(s) base URL such as http://127.0.0.1:8000")
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 128
	return &ServerWarmer{
		base:    strings.TrimRight(u.String(), "/"),
		client:  &http.Client{Timeout: serverRequestTimeout, Transport: transport},
		refresh: refresh,
		token:   token,
		timeout: serverRowTimeout,
	}, nil
}

// WarmRow submits the row and waits for its job.
func (s *ServerWarmer) WarmRow(ctx context.Context, bookID, imageURL string) (Outcome, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	id, err := s.submit(ctx, bookID, imageURL)
	if err != nil {
		return 0, err
	}
	return Warmed, s.wait(ctx, id)
}

// submit posts the row and returns the job id, retrying while the service
// says it is overloaded.
func (s *ServerWarmer) submit(ctx context.Context, bookID, imageURL string) (string, error) {
	body, _ := json.Marshal(map[string]string{"book_id": bookID, "image_url": imageURL})
	target := s.base + "/process"
	if s.refresh {
		target += "?refresh=true"
	}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			return "", fmt.Errorf("submit: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		if s.token != "" {
			req.Header.Set("Authorization", "Bearer "+s.token)
		}
		status, hdr, b, err := s.do(req)
		if err != nil {
			return "", err
		}
		switch status {
		case http.StatusAccepted:
			var out struct {
				JobID string `json:"job_id"`
			}
			if json.Unmarshal(b, &out) != nil || out.JobID == "" {
				return "", &rowError{code: "bad_response", message: "POST /process answered 202 without a job_id"}
			}
			return out.JobID, nil
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			if err := sleepOrDone(ctx, serverRetryAfter(hdr)); err != nil {
				return "", fmt.Errorf("submit: service overloaded until the deadline: %w", err)
			}
		default:
			return "", cover.ReadServiceError("POST /process", status, b)
		}
	}
}

// wait polls the job until it is finished.
func (s *ServerWarmer) wait(ctx context.Context, id string) error {
	delay, errs := serverPollMin, 0
	for {
		if err := sleepOrDone(ctx, delay); err != nil {
			return fmt.Errorf("wait for job %s: %w", id, err)
		}
		delay = min(2*delay, serverPollMax)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/jobs/"+url.PathEscape(id), nil)
		if err != nil {
			return fmt.Errorf("wait for job %s: %w", id, err)
		}
		status, _, b, err := s.do(req)
		if err != nil {
			if errs++; errs >= serverMaxPollErrors || ctx.Err() != nil {
				return err
			}
			continue
		}
		errs = 0
		switch status {
		case http.StatusOK:
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			continue
		default:
			return cover.ReadServiceError("GET /jobs/"+id, status, b)
		}
		var job struct {
			State string `json:"state"`
			Error *struct {
				Code    string `json:"code"`
				Message string `json:"message"`
				Reason  string `json:"reason"`
			} `json:"error"`
		}
		if err := json.Unmarshal(b, &job); err != nil {
			return &rowError{code: "bad_response", message: "GET /jobs: " + err.Error()}
		}
		switch job.State {
		case "succeeded":
			return nil
		case "failed":
			if job.Error == nil {
				return &rowError{code: "internal", message: "the job failed without an error"}
			}
			return &rowError{code: job.Error.Code, message: job.Error.Message, reason: job.Error.Reason}
		}
	}
}

// do sends one request and reads at most 64 KiB of the answer. A transport
// failure is server_unreachable unless the row's own deadline ended.
func (s *ServerWarmer) do(req *http.Request) (int, http.Header, []byte, error) {
	resp, err := s.client.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return 0, nil, nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, ctxErr)
		}
		return 0, nil, nil, &rowError{code: "server_unreachable", message: err.Error()}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, nil, nil, &rowError{code: "server_unreachable", message: "read answer: " + err.Error()}
	}
	return resp.StatusCode, resp.Header, b, nil
}

// serverRetryAfter reads Retry-After in seconds, between 1s and serverMaxRetryAfter.
func serverRetryAfter(h http.Header) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After")))
	if err != nil || n < 1 {
		return time.Second
	}
	return min(time.Duration(n)*time.Second, serverMaxRetryAfter)
}

func sleepOrDone(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
