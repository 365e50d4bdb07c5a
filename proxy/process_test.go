package proxy

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestDecodeProcess(t *testing.T) {
	cases := []struct {
		name, body string
		wantErr    error
	}{
		{"ok", `{"book_id":"B1","image_url":"https://a.example/x.jpg"}`, nil},
		{"unknown fields ignored", `{"book_id":"B1","image_url":"https://a","extra":[1,2,{}]}`, nil},
		{"whitespace", " \n{\"book_id\":\"B1\",\"image_url\":\"u\"}\n ", nil},
		{"empty", ``, errBadJSON},
		{"null", `null`, errBadJSON},
		{"array", `[]`, errBadJSON},
		{"string", `"x"`, errBadJSON},
		{"truncated", `{"book_id":"B1"`, errBadJSON},
		{"two objects", `{"book_id":"B1","image_url":"u"}{}`, errBadJSON},
		{"number id", `{"book_id":7,"image_url":"u"}`, errBadJSON},
		{"null id", `{"book_id":null,"image_url":"u"}`, errMissingField},
		{"missing url", `{"book_id":"B1"}`, errMissingField},
		{"invalid utf8", "{\"book_id\":\"\xff\",\"image_url\":\"u\"}", nil}, // decodes; book id validation refuses it later
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeProcess(strings.NewReader(c.body))
			if c.wantErr == nil && err != nil || c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Errorf("decodeProcess(%q) = %v, want %v", c.body, err, c.wantErr)
			}
		})
	}
}

// FuzzDecodeProcess: any body decodes to both fields or fails with a 400-class
// error; it never panics.
func FuzzDecodeProcess(f *testing.F) {
	for _, s := range []string{`{"book_id":"B1","image_url":"https://a.example/x.jpg"}`, `null`, `{"book_id":1}`, `{}{}`, "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeProcess(bytes.NewReader(body))
		if err != nil {
			if st := classify(err).Status; st != 400 {
				t.Fatalf("decodeProcess error %v maps to %d, want 400", err, st)
			}
			return
		}
		if req.BookID == nil || req.ImageURL == nil {
			t.Fatalf("decodeProcess(%q) accepted a body without both fields", body)
		}
	})
}
