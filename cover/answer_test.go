package cover

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestReadServiceError(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 300)
	tests := []struct {
		name     string
		status   int
		body     string
		wantCode Code
		wantMsg  string
	}{
		{"the service's answer", 403, `{"error":{"code":"bad_signature","message":"the URL signature is not valid"}}`,
			CodeBadSignature, "the URL signature is not valid"},
		{"a code this build does not know", 409, `{"error":{"code":"from_the_future","message":"later"}}`, "from_the_future", "later"},
		{"JSON without a code", 500, `{"error":{"message":"boom"}}`, "http_500", `GET /covers answered 500: {"error":{"message":"boom"}}`},
		{"plain text, trimmed", 502, "  Bad Gateway\n", "http_502", "GET /covers answered 502: Bad Gateway"},
		{"no body", 504, "", "http_504", "GET /covers answered 504: "},
		{"a long body is cut", 500, long, "http_500", "GET /covers answered 500: " + long[:200] + "..."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := ReadServiceError("GET /covers", tc.status, []byte(tc.body))
			if err.Code != tc.wantCode || err.Message != tc.wantMsg {
				t.Errorf("ReadServiceError(%d, %q) = %q, %q; want %q, %q", tc.status, tc.body, err.Code, err.Message, tc.wantCode, tc.wantMsg)
			}
			if want := string(tc.wantCode) + ": " + tc.wantMsg; err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
			var se *ServiceError
			if !errors.As(fmt.Errorf("wrapped: %w", err), &se) || se != err {
				t.Errorf("errors.As through a wrap did not find the *ServiceError")
			}
		})
	}
}

// FuzzReadServiceError: any answer reads as an error with a code, whose
// text starts with that code; an answer without a code keeps at most 200
// bytes of its body.
func FuzzReadServiceError(f *testing.F) {
	f.Add(403, []byte(`{"error":{"code":"bad_signature","message":"m"}}`))
	f.Add(500, []byte("boom"))
	f.Add(0, []byte(`{"error":null}`))
	f.Add(-1, []byte(`{"error":{"code":""}}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		err := ReadServiceError("POST /process", status, body)
		if err == nil || err.Code == "" {
			t.Fatalf("ReadServiceError(%d, %q) = %#v, want a code", status, body, err)
		}
		if !strings.HasPrefix(err.Error(), string(err.Code)+": ") {
			t.Errorf("Error() = %q does not start with the code %q", err.Error(), err.Code)
		}
		if strings.HasPrefix(string(err.Code), "http_") && len(err.Message) > len("POST /process answered : ")+len(fmt.Sprint(status))+200+len("...") {
			t.Errorf("message of %d bytes keeps more than 200 bytes of the body", len(err.Message))
		}
	})
}
