package cover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestEveryCodeHasItsOwnText: each code has a public text of its own (only
// internal says "internal error"), and an unknown code reads as internal.
func TestEveryCodeHasItsOwnText(t *testing.T) {
	t.Parallel()
	seen := map[string]Code{}
	for _, c := range Codes() {
		msg := c.Message()
		if msg == "" || c != CodeInternal && msg == CodeInternal.Message() {
			t.Errorf("%s.Message() = %q, want a text of its own", c, msg)
		}
		if other, dup := seen[msg]; dup {
			t.Errorf("%s and %s share the text %q", c, other, msg)
		}
		seen[msg] = c
	}
	if got := Code("no_such_code").Message(); got != "internal error" {
		t.Errorf("unknown code's Message() = %q, want %q", got, "internal error")
	}
	for _, f := range Formats() {
		if !strings.Contains(CodeBadFormat.Message(), string(f)) {
			t.Errorf("bad_format text %q does not name %s", CodeBadFormat.Message(), f)
		}
	}
}

func TestCodeOf(t *testing.T) {
	t.Parallel()
	errA := NewError(CodeNotAnImage, "a")
	errB := NewError(CodeStorageUnavailable, "b")
	tests := []struct {
		name   string
		err    error
		want   Code
		wantOK bool
	}{
		{"sentinel", errA, CodeNotAnImage, true},
		{"wrapped", fmt.Errorf("render %s: %w", "B1", errA), CodeNotAnImage, true},
		{"first of two", fmt.Errorf("save: %w: %w", errB, errA), CodeStorageUnavailable, true},
		{"inside a join", errors.Join(errors.New("x"), fmt.Errorf("y: %w", errA)), CodeNotAnImage, true},
		{"book id", fmt.Errorf("parse: %w", ErrInvalidBookID), CodeInvalidBookID, true},
		{"format", fmt.Errorf("parse: %w", ErrUnsupportedFormat), CodeBadFormat, true},
		{"context", fmt.Errorf("wait: %w", context.Canceled), "", false},
		{"plain", errors.New("boom"), "", false},
		{"nil", nil, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got, ok := CodeOf(tc.err); got != tc.want || ok != tc.wantOK {
				t.Errorf("CodeOf(%v) = %q, %v; want %q, %v", tc.err, got, ok, tc.want, tc.wantOK)
			}
		})
	}
	if !errors.Is(fmt.Errorf("x: %w", errA), errA) || errors.Is(errA, NewError(CodeNotAnImage, "a")) {
		t.Error("sentinels made by NewError must compare by identity under errors.Is")
	}
	if errA.Error() != "a" {
		t.Errorf("Error() = %q, want the sentinel's text", errA.Error())
	}
}
