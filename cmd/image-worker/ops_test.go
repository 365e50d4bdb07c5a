package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/internal/loadloop"
)

// downStore answers like an unreachable object store.
type downStore struct{ cache.Store }

func (downStore) Ping(context.Context) error { return fmt.Errorf("ping: %w", cache.ErrUnavailable) }
func (downStore) Get(context.Context, string) (cache.Object, error) {
	return cache.Object{}, fmt.Errorf("get: %w", cache.ErrUnavailable)
}

// TestReadinessReportsTheStoreButKeepsServing: with the store down /ready
// stays 200 ("send me traffic": the replica serves what it holds and answers
// the rest at once) and names the store in a "degraded" body.
func TestReadinessReportsTheStoreButKeepsServing(t *testing.T) {
	svc := startService(t, downStore{localStore(t)}, nil, nil)
	resp, body := do(t, http.MethodGet, svc.base+"/ready", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"status":"degraded"`) || !strings.Contains(string(body), `"reason"`) {
		t.Errorf("/ready with the store down = %d %s, want 200 degraded with a reason", resp.StatusCode, body)
	}
	if resp, _ := do(t, http.MethodGet, svc.base+"/health", nil); resp.StatusCode != 200 {
		t.Errorf("/health with the store down = %d, want 200", resp.StatusCode)
	}
	resp, body = do(t, http.MethodGet, svc.signed("/covers/B1/320.webp"), nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("cover with the store down = %d %s (Retry-After %q), want 503 with Retry-After", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
}

func TestOverloadAnswers503AtOnce(t *testing.T) {
	src := newSource(t)
	svc := startService(t, localStore(t), src, map[string]string{"MAX_CONCURRENT_TRANSFORMS": "1", "TRANSFORM_QUEUE_SIZE": "1"})
	svc.warm("LOAD", src.add("/big.jpg", readTestdata(t, "photo-1600x2400-baseline.jpg")))
	counts := loadloop.Run(loadloop.Config{Workers: 12, Each: 1}, func(c loadloop.Call) string {
		resp, _ := do(t, http.MethodGet, svc.signed(fmt.Sprintf("/covers/LOAD/%d.avif", 300+c.Worker)), nil)
		if resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
		return strconv.Itoa(resp.StatusCode)
	})
	if counts["200"] == 0 || counts["503"] == 0 || counts.Sum("200", "503") != 12 {
		t.Errorf("12 distinct renders with 1 slot and a queue of 1: statuses %v, want some 200 and some 503 only", counts)
	}
}

func TestUnsignedURLsOnlyWhenDisabled(t *testing.T) {
	svc := startService(t, localStore(t), nil, map[string]string{"IMAGE_SIGNING_DISABLED": "true", "IMAGE_SIGNING_KEYS": ""})
	resp, body := do(t, http.MethodGet, svc.base+"/covers/NOBOOK/160.webp", nil)
	if resp.StatusCode != 200 || resp.Header.Get("X-Cover-Placeholder") != "true" {
		t.Errorf("unsigned URL with signing disabled = %d %s", resp.StatusCode, body)
	}
}
