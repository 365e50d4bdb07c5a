package main

import (
	"bytes"
	"image/jpeg"
	"net/http"
	"testing"
)

// TestCoverJPEG: GET /covers/{id}/{size}.jpg over HTTP is an image/jpeg of
// the requested size, signed like every cover, cached like every cover (a
// second GET renders nothing and has the same ETag), progressive from 320
// px wide, with no EXIF or ICC segment from an original that carries them,
// and an original with alpha flattened onto white.
func TestCoverJPEG(t *testing.T) {
	t.Parallel()
	svc := startWarmed(t, nil, map[string]string{"B-JPG": "photo-1200x1800-exif-gps-xmp-iptc.jpg", "B-ALPHA": "cover-800x1200-alpha.png"})

	for _, c := range []struct {
		path         string
		wantW, wantH int
		progressive  bool
	}{
		{"/covers/B-JPG/thumb.jpg", 96, 144, false},
		{"/covers/B-JPG/large.jpg", 640, 960, true},
		{"/covers/B-JPG/320x320.jpg", 320, 320, true},
	} {
		t.Run(c.path, func(t *testing.T) {
			renders := svc.app.renderer.Renders()
			resp, body := do(t, http.MethodGet, svc.signed(c.path), nil)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/jpeg" {
				t.Fatalf("GET %s = %d %q %s, want 200 image/jpeg", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), body[:min(len(body), 200)])
			}
			img, err := jpeg.Decode(bytes.NewReader(body))
			if err != nil || img.Bounds().Dx() != c.wantW || img.Bounds().Dy() != c.wantH {
				t.Fatalf("GET %s decodes as JPEG %v, %v; want %dx%d", c.path, img.Bounds(), err, c.wantW, c.wantH)
			}
			if got := bytes.Contains(body[:min(len(body), 1024)], []byte{0xff, 0xc2}); got != c.progressive {
				t.Errorf("GET %s progressive (SOF2 in the header) = %v, want %v", c.path, got, c.progressive)
			}
			if bytes.Contains(body, []byte("Exif\x00")) || bytes.Contains(body, []byte("ICC_PROFILE")) || bytes.Contains(body, []byte("http://ns.adobe.com/xap")) {
				t.Errorf("GET %s keeps EXIF, XMP or ICC from the original", c.path)
			}
			etag := resp.Header.Get("ETag")
			again, body2 := do(t, http.MethodGet, svc.signed(c.path), nil)
			if again.StatusCode != http.StatusOK || again.Header.Get("ETag") != etag || etag == "" || !bytes.Equal(body, body2) {
				t.Errorf("second GET %s = %d ETag %q, want 200 with the first's ETag %q and bytes", c.path, again.StatusCode, again.Header.Get("ETag"), etag)
			}
			if got := svc.app.renderer.Renders() - renders; got != 1 {
				t.Errorf("two GETs of %s rendered %d times, want 1 (the second a cache hit)", c.path, got)
			}
			resp, body = do(t, http.MethodGet, svc.base+c.path, nil)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("unsigned GET %s = %d, want 403", c.path, resp.StatusCode)
			}
			assertErrorBody(t, "unsigned jpg", resp, body, "missing_signature")
		})
	}

	t.Run("alpha flattened onto white", func(t *testing.T) {
		resp, body := do(t, http.MethodGet, svc.signed("/covers/B-ALPHA/320.jpg"), nil)
		img, err := jpeg.Decode(bytes.NewReader(body))
		if resp.StatusCode != http.StatusOK || err != nil {
			t.Fatalf("GET 320.jpg of a PNG with alpha = %d, %v", resp.StatusCode, err)
		}
		// The PNG's top-left corner and a hole at (50 %, 21 %) are transparent.
		for _, p := range [][2]int{{1, 1}, {160, 100}} {
			r, g, b, _ := img.At(p[0], p[1]).RGBA()
			if r>>8 < 245 || g>>8 < 245 || b>>8 < 245 {
				t.Errorf("transparent pixel %v = %d,%d,%d; want white", p, r>>8, g>>8, b>>8)
			}
		}
	})
}
