package proxy

import (
	"errors"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"github.com/bookcovers/image-worker/cover"
	"github.com/julienschmidt/httprouter"
)

type httprouterParams = httprouter.Params

func newTestSet() *metrics.Set { return metrics.NewSet() }

func TestParseCover(t *testing.T) {
	c := DefaultConfig()
	cases := []struct {
		name, book, file, query string
		wantW, wantH            int
		wantErr                 error
	}{
		{"preset", "B123", "medium.webp", "", 320, 0, nil},
		{"width", "B123", "320.avif", "", 320, 0, nil},
		{"box", "B123", "320x480.webp", "v=abc&exp=1893456000&sig=x", 320, 480, nil},
		{"min", "b.1_-", "16.webp", "", 16, 0, nil},
		{"max", "B", "2048x2048.webp", "", 2048, 2048, nil},
		{"too small", "B", "15.webp", "", 0, 0, errBadSize},
		{"too big", "B", "2049.webp", "", 0, 0, errBadSize},
		{"leading zero", "B", "0320.webp", "", 0, 0, errBadSize},
		{"sign", "B", "+320.webp", "", 0, 0, errBadSize},
		{"unknown preset", "B", "huge.webp", "", 0, 0, errBadSize},
		{"overflow", "B", "99999999999999999999.webp", "", 0, 0, errBadSize},
		{"empty box h", "B", "320x.webp", "", 0, 0, errBadSize},
		{"png", "B", "320.png", "", 0, 0, errBadFormat},
		{"no ext", "B", "320", "", 0, 0, errBadPath},
		{"double ext", "B", "320.webp.avif", "", 0, 0, errBadFormat},
		{"dot book", ".B", "320.webp", "", 0, 0, cover.ErrInvalidBookID},
		{"traversal", "..", "320.webp", "", 0, 0, cover.ErrInvalidBookID},
		{"slash-ish", "a%2Fb", "320.webp", "", 0, 0, cover.ErrInvalidBookID},
		{"long book", string(make([]byte, 129)), "320.webp", "", 0, 0, cover.ErrInvalidBookID},
		{"extra param", "B", "320.webp", "w=1&sig=x", 0, 0, errBadQuery},
		{"repeated v", "B", "320.webp", "v=a&v=b", 0, 0, errBadQuery},
		{"bad v", "B", "320.webp", "v=a/b", 0, 0, errBadQuery},
		{"semicolon", "B", "320.webp", "v=a;x=1", 0, 0, errBadQuery},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := c.parseCover(tc.book, tc.file, tc.query)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("parseCover(%q, %q, %q) error = %v, want %v", tc.book, tc.file, tc.query, err, tc.wantErr)
				}
				return
			}
			if err != nil || req.Width != tc.wantW || req.Height != tc.wantH {
				t.Fatalf("parseCover(%q, %q) = %dx%d, %v; want %dx%d", tc.book, tc.file, req.Width, req.Height, err, tc.wantW, tc.wantH)
			}
			if req.Params.Has("sig") {
				t.Errorf("signed params include sig")
			}
		})
	}
}

// FuzzParseCover: any input parses or fails with a 400-class error; a parsed
// request re-formats to a path that parses to the same request.
func FuzzParseCover(f *testing.F) {
	for _, s := range [][3]string{{"B123", "medium.webp", ""}, {"B123", "320x480.avif", "v=abc&exp=1&sig=x"}, {"..", "0.webp", "a=b"}} {
		f.Add(s[0], s[1], s[2])
	}
	c := DefaultConfig()
	f.Fuzz(func(t *testing.T, book, file, query string) {
		req, err := c.parseCover(book, file, query)
		if err != nil {
			if classify(err).Status != 400 {
				t.Fatalf("parseCover error %v maps to %d, want 400", err, classify(err).Status)
			}
			return
		}
		key := cover.VariantKey{BookID: req.BookID, Version: "v1", Width: req.Width, Height: req.Height, Format: string(req.Format)}
		again, err := c.parseCover(req.BookID, key.Size()+"."+string(req.Format), "")
		if err != nil || again.Width != req.Width || again.Height != req.Height || again.Format != req.Format {
			t.Fatalf("round trip of %q/%q: %+v then %+v, %v", book, file, req, again, err)
		}
		parsed, err := cover.ParseVariantKey(key.String())
		if err != nil || parsed != key {
			t.Fatalf("variant key round trip %q: %+v, %v", key.String(), parsed, err)
		}
	})
}
