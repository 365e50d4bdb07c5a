package events

import (
	"context"
	"testing"

	"github.com/bookcovers/image-worker/cover"
)

// With no result topic (or no Results at all) nothing is published and no
// client is touched: a nil client would panic otherwise.
func TestResultsDisabledAreNoOps(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ResultTopic = ""
	tests := []struct {
		name string
		r    *Results
	}{
		{"empty result topic", NewResults(nil, cfg)},
		{"nil results", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if err := tt.r.Succeeded(ctx, cover.Manifest{BookID: "b", Version: "v"}); err != nil {
				t.Errorf("Succeeded = %v, want nil", err)
			}
			if err := tt.r.Failed(ctx, Failure{JobID: "job", BookID: "b", SourceURL: "u", Code: cover.CodeTimeout}); err != nil {
				t.Errorf("Failed = %v, want nil", err)
			}
			if tt.r.Metrics() == nil {
				t.Errorf("Metrics() = nil, want a set")
			}
		})
	}
}

func TestCoverPathTemplate(t *testing.T) {
	if got, want := CoverPathTemplate("b-1", "0123456789ab"), "/covers/b-1/{size}.{format}?v=0123456789ab"; got != want {
		t.Errorf("CoverPathTemplate = %q, want %q", got, want)
	}
}
