package ingest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/transform"
)

// TestCode: a failure records the code its error names when a job can have
// it, the context's meaning otherwise, and internal for anything else (a
// request's own code included).
func TestCode(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error { return fmt.Errorf("warm B1: %w", err) }
	tests := []struct {
		name string
		err  error
		want cover.Code
	}{
		{"nil", nil, ""},
		{"book id", wrap(cover.ErrInvalidBookID), cover.CodeInvalidBookID},
		{"blocked", wrap(ErrBlockedAddress), cover.CodeBlockedAddress},
		{"fetch timeout", wrap(ErrTimeout), cover.CodeTimeout},
		{"not an image", wrap(transform.ErrNotAnImage), cover.CodeNotAnImage},
		{"corrupt", wrap(transform.ErrRenderFailed), cover.CodeCorruptImage},
		{"render queue full", wrap(transform.ErrOverloaded), cover.CodeOverloaded},
		{"store down, first of two", fmt.Errorf("save: %w: %w", cache.ErrUnavailable, cache.ErrTimeout), cover.CodeStorageUnavailable},
		{"job queue full", wrap(ErrQueueFull), cover.CodeQueueFull},
		{"shutting down", wrap(ErrClosed), cover.CodeShuttingDown},
		{"deadline", wrap(context.DeadlineExceeded), cover.CodeTimeout},
		{"canceled", wrap(context.Canceled), cover.CodeCanceled},
		{"a request's code", wrap(transform.ErrInvalidRequest), cover.CodeInternal},
		{"a request's code past its deadline", fmt.Errorf("%w: %w", cover.ErrUnsupportedFormat, context.DeadlineExceeded), cover.CodeTimeout},
		{"unknown", errors.New("boom"), cover.CodeInternal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Code(tc.err); got != tc.want {
				t.Errorf("Code(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
	for c := range jobCodes {
		if c.Message() == cover.CodeInternal.Message() && c != cover.CodeInternal {
			t.Errorf("job code %s has no text of its own", c)
		}
	}
}
