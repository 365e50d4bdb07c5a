package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"net/http"
	"testing"

	"github.com/bookcovers/image-worker/cover"
)

// scannedCover is the test photo at a quarter size (400x600) on a white
// page with a border of 40 px left and right and 100 px above and below
// (480x800): a scan whose page is not the cover's 2:3.
func scannedCover(t *testing.T) []byte {
	t.Helper()
	photo, err := jpeg.Decode(bytes.NewReader(readTestdata(t, "photo-1600x2400-baseline.jpg")))
	if err != nil {
		t.Fatal(err)
	}
	page := image.NewRGBA(image.Rect(0, 0, 480, 800))
	draw.Draw(page, page.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	for y := range 600 {
		for x := range 400 {
			page.Set(40+x, 100+y, photo.At(x*4, y*4))
		}
	}
	return encodePNG(t, page)
}

// cornerLuma is the mean luma of the top-left 4x4 pixels of a JPEG.
func cornerLuma(t *testing.T, body []byte) (w, h int, luma float64) {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	b := img.Bounds()
	for y := range 4 {
		for x := range 4 {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			luma += (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257 / 16
		}
	}
	return b.Dx(), b.Dy(), luma
}

// TestTrimBordersOverHTTP: with TRIM_BORDERS=true a scanned cover's white
// page is cut off every variant served (the cover's 2:3, its own corner),
// and meta.json reports the box; with TRIM_BORDERS=false the page stays.
// Switching the setting later changes no variant of a stored version: the
// same books warmed again from the same bytes are served as before, and
// only a new book takes the new setting. The two replicas share a MinIO
// bucket.
func TestTrimBordersOverHTTP(t *testing.T) {
	src := newSource(t)
	store := minioStore(t)
	scanURL := src.add("/scan.png", scannedCover(t))
	on := startService(t, store, src, map[string]string{"TRIM_BORDERS": "true"})
	on.warm("TRIMMED", scanURL)
	off := startService(t, store, src, map[string]string{"TRIM_BORDERS": "false"})
	off.warm("KEPT", scanURL)

	// get answers a cover as a JPEG: its size and corner, and its ETag.
	get := func(svc *service, book string) (w, h int, luma float64, etag string) {
		t.Helper()
		resp, body := do(t, http.MethodGet, svc.signed("/covers/"+book+"/200.jpg"), nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s/200.jpg = %d %s", book, resp.StatusCode, body)
		}
		w, h, luma = cornerLuma(t, body)
		return w, h, luma, resp.Header.Get("ETag")
	}
	trimmed := func(svc *service, book, when string) string {
		t.Helper()
		w, h, luma, etag := get(svc, book)
		if w != 200 || h < 299 || h > 301 || luma > 245 {
			t.Errorf("%s: %s/200.jpg is %dx%d with corner luma %.0f; want the cover alone, about 200x300, not the white page", when, book, w, h, luma)
		}
		return etag
	}
	untrimmed := func(svc *service, book, when string) string {
		t.Helper()
		w, h, luma, etag := get(svc, book)
		if w != 200 || h != 333 || luma < 250 {
			t.Errorf("%s: %s/200.jpg is %dx%d with corner luma %.0f; want the whole page, 200x333, white corner", when, book, w, h, luma)
		}
		return etag
	}
	trimmedTag := trimmed(on, "TRIMMED", "TRIM_BORDERS=true")
	keptTag := untrimmed(off, "KEPT", "TRIM_BORDERS=false")
	// Either replica serves each book as it was stored.
	trimmed(off, "TRIMMED", "stored trimmed, served by a replica with TRIM_BORDERS=false")
	untrimmed(on, "KEPT", "stored untrimmed, served by a replica with TRIM_BORDERS=true")

	_, body := do(t, http.MethodGet, on.signed("/covers/TRIMMED/meta.json"), nil)
	var meta struct {
		Width, Height int
		Trim          *cover.Rect `json:"trim"`
	}
	if err := json.Unmarshal(body, &meta); err != nil || meta.Trim == nil || meta.Width != meta.Trim.Width || meta.Height != meta.Trim.Height ||
		meta.Width < 400 || meta.Width > 404 || meta.Height < 600 || meta.Height > 604 {
		t.Errorf("meta.json of TRIMMED = %s (%v); want the box of the 400x600 cover in the 480x800 page as width, height and trim", body, err)
	}

	// The settings swap: both books are warmed again from the same bytes.
	for _, w := range []struct {
		svc  *service
		book string
	}{{off, "TRIMMED"}, {on, "KEPT"}} {
		if j := w.svc.waitJob(w.svc.process(w.book, scanURL, "?refresh=true")); j.State != "succeeded" {
			t.Fatalf("warm %s again = %+v", w.book, j)
		}
	}
	if tag := trimmed(on, "TRIMMED", "warmed again with TRIM_BORDERS=false"); tag != trimmedTag {
		t.Errorf("TRIMMED's 200.jpg changed (ETag %s, was %s) when it was warmed again with the other setting", tag, trimmedTag)
	}
	if tag := untrimmed(off, "KEPT", "warmed again with TRIM_BORDERS=true"); tag != keptTag {
		t.Errorf("KEPT's 200.jpg changed (ETag %s, was %s) when it was warmed again with the other setting", tag, keptTag)
	}
	// A new book of the same bytes takes the setting of the replica that
	// stores it.
	on.warm("NEW", scanURL)
	trimmed(off, "NEW", "a new book stored with TRIM_BORDERS=true")
}
