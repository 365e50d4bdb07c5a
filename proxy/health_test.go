package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// pinger is a dependency whose health the test sets.
type pinger struct{ down atomic.Bool }

func (p *pinger) Ping(context.Context) error {
	if p.down.Load() {
		return errors.New("connection refused")
	}
	return nil
}

// TestReadyMeansSendMeTraffic: /ready is 200 whatever the dependencies'
// state, "degraded" with the failed check named in the body and in
// covers_dependency_up; 503 only while draining.
func TestReadyMeansSendMeTraffic(t *testing.T) {
	t.Parallel()
	store, kafka := &pinger{}, &pinger{}
	var draining atomic.Bool
	srv, err := New(DefaultConfig(), wired(Deps{Logger: slog.New(slog.DiscardHandler), Draining: draining.Load,
		Checks: []Check{{Name: "object_store", Pinger: store}, {Name: "kafka", Pinger: kafka}}}))
	if err != nil {
		t.Fatal(err)
	}
	ready := func() (int, map[string]any) {
		t.Helper()
		rec := httptest.NewRecorder()
		srv.Public().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ready", nil))
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("/ready body %q: %v", rec.Body, err)
		}
		return rec.Code, body
	}
	gauge := func(dep string) string {
		var sb strings.Builder
		srv.Metrics().WritePrometheus(&sb)
		for _, line := range strings.Split(sb.String(), "\n") {
			if v, ok := strings.CutPrefix(line, `covers_dependency_up{dependency="`+dep+`"} `); ok {
				return v
			}
		}
		return "missing"
	}
	tests := []struct {
		name                 string
		storeDown, kafkaDown bool
		draining             bool
		wantCode             int
		wantStatus           string
		wantStore, wantKafka string
	}{
		{"all up", false, false, false, 200, "ready", "1", "1"},
		{"object store down", true, false, false, 200, "degraded", "0", "1"},
		{"kafka down", false, true, false, 200, "degraded", "1", "0"},
		{"both down", true, true, false, 200, "degraded", "0", "0"},
		{"draining", false, false, true, 503, "draining", "1", "1"},
	}
	for _, tc := range tests {
		store.down.Store(tc.storeDown)
		kafka.down.Store(tc.kafkaDown)
		draining.Store(tc.draining)
		code, body := ready()
		if code != tc.wantCode || body["status"] != tc.wantStatus {
			t.Errorf("%s: /ready = %d %v; want %d %q", tc.name, code, body, tc.wantCode, tc.wantStatus)
		}
		if tc.draining {
			continue
		}
		checks, _ := body["checks"].(map[string]any)
		for dep, down := range map[string]bool{"object_store": tc.storeDown, "kafka": tc.kafkaDown} {
			want := "ok"
			if down {
				want = "unreachable"
			}
			if checks[dep] != want {
				t.Errorf("%s: /ready checks[%s] = %v; want %s", tc.name, dep, checks[dep], want)
			}
		}
		if g := gauge("object_store"); g != tc.wantStore {
			t.Errorf("%s: covers_dependency_up{object_store} = %s; want %s", tc.name, g, tc.wantStore)
		}
		if g := gauge("kafka"); g != tc.wantKafka {
			t.Errorf("%s: covers_dependency_up{kafka} = %s; want %s", tc.name, g, tc.wantKafka)
		}
	}
}
