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
	c.Sizes["card"] = cover.Size{Width: 600, Height: 315, Fit: true}
	cases := []struct {
		name, book, file, query string
		wantW, wantH            int
		wantErr                 error
		wantFit                 bool
	}{
		{"preset", "B123", "medium.webp", "", 320, 0, nil, false},
		{"width", "B123", "320.avif", "", 320, 0, nil, false},
		{"box", "B123", "320x480.webp", "v=abc&exp=1893456000&sig=x", 320, 480, nil, false},
		{"min", "b.1_-", "16.webp", "", 16, 0, nil, false},
		{"max", "B", "2048x2048.webp", "", 2048, 2048, nil, false},
		{"too small", "B", "15.webp", "", 0, 0, errBadSize, false},
		{"too big", "B", "2049.webp", "", 0, 0, errBadSize, false},
		{"leading zero", "B", "0320.webp", "", 0, 0, errBadSize, false},
		{"sign", "B", "+320.webp", "", 0, 0, errBadSize, false},
		{"unknown preset", "B", "huge.webp", "", 0, 0, errBadSize, false},
		{"overflow", "B", "99999999999999999999.webp", "", 0, 0, errBadSize, false},
		{"empty box h", "B", "320x.webp", "", 0, 0, errBadSize, false},
		{"fit box", "B", "200x300f.jpg", "", 200, 300, nil, true},
		{"fit preset", "B", "card.webp", "", 600, 315, nil, true},
		{"fit max", "B", "2048x2048f.avif", "", 2048, 2048, nil, true},
		{"fit without a box", "B", "320f.webp", "", 0, 0, errBadSize, false},
		{"fit uppercase", "B", "200x300F.webp", "", 0, 0, errBadSize, false},
		{"fit twice", "B", "200x300ff.webp", "", 0, 0, errBadSize, false},
		{"fit empty h", "B", "200xf.webp", "", 0, 0, errBadSize, false},
		{"fit leading zero", "B", "200x0300f.webp", "", 0, 0, errBadSize, false},
		{"fit too big", "B", "200x2049f.webp", "", 0, 0, errBadSize, false},
		{"fit before x", "B", "200fx300.webp", "", 0, 0, errBadSize, false},
		{"jpeg spelling", "B", "320.jpeg", "", 0, 0, errBadFormat, false},
		{"jpg", "B", "320.jpg", "", 320, 0, nil, false},
		{"png", "B", "320.png", "", 0, 0, errBadFormat, false},
		{"no ext", "B", "320", "", 0, 0, errBadPath, false},
		{"double ext", "B", "320.webp.avif", "", 0, 0, errBadFormat, false},
		{"dot book", ".B", "320.webp", "", 0, 0, cover.ErrInvalidBookID, false},
		{"traversal", "..", "320.webp", "", 0, 0, cover.ErrInvalidBookID, false},
		{"slash-ish", "a%2Fb", "320.webp", "", 0, 0, cover.ErrInvalidBookID, false},
		{"long book", string(make([]byte, 129)), "320.webp", "", 0, 0, cover.ErrInvalidBookID, false},
		{"extra param", "B", "320.webp", "w=1&sig=x", 0, 0, errBadQuery, false},
		{"repeated v", "B", "320.webp", "v=a&v=b", 0, 0, errBadQuery, false},
		{"bad v", "B", "320.webp", "v=a/b", 0, 0, errBadQuery, false},
		{"semicolon", "B", "320.webp", "v=a;x=1", 0, 0, errBadQuery, false},
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
			if err != nil || req.Width != tc.wantW || req.Height != tc.wantH || req.Fit != tc.wantFit {
				t.Fatalf("parseCover(%q, %q) = %dx%d fit %v, %v; want %dx%d fit %v", tc.book, tc.file, req.Width, req.Height, req.Fit, err, tc.wantW, tc.wantH, tc.wantFit)
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
	for _, s := range [][3]string{{"B123", "medium.webp", ""}, {"B123", "320x480.avif", "v=abc&exp=1&sig=x"}, {"B123", "200x300f.jpg", ""}, {"..", "0.webp", "a=b"}} {
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
		key := cover.VariantKey{BookID: req.BookID, Version: "v1", Width: req.Width, Height: req.Height, Fit: req.Fit, Format: string(req.Format)}
		again, err := c.parseCover(req.BookID, key.Size()+"."+string(req.Format), "")
		if err != nil || again.Width != req.Width || again.Height != req.Height || again.Fit != req.Fit || again.Format != req.Format {
			t.Fatalf("round trip of %q/%q: %+v then %+v, %v", book, file, req, again, err)
		}
		parsed, err := cover.ParseVariantKey(key.String())
		if err != nil || parsed != key {
			t.Fatalf("variant key round trip %q: %+v, %v", key.String(), parsed, err)
		}
	})
}
