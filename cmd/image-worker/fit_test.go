package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/jpeg"
	"math"
	"net/http"
	"strconv"
	"testing"

	"github.com/bookcovers/image-worker/transform"
)

// TestCoverFit: GET /covers/{id}/{W}x{H}f.{format} is exactly the box with
// the whole cover inside, padded with the cover's dominant colour (the
// meta.json dominant_color); it is its own variant (not the fill of the same
// box), cached like every variant, and a COVER_SIZES preset may name it.
// A box larger than the cover on both sides shrinks until the cover fits
// at its own size (never enlarged).
func TestCoverFit(t *testing.T) {
	t.Parallel()
	svc := startWarmed(t, map[string]string{"COVER_SIZES": "thumb=96,medium=320,card=600x300f"},
		map[string]string{"B-FIT": "photo-1600x2400-baseline.jpg", "B-TINY": "cover-50x75-tiny.jpg"})

	resp, body := do(t, http.MethodGet, svc.signed("/covers/B-FIT/meta.json"), nil)
	var meta struct {
		DominantColor string                       `json:"dominant_color"`
		Covers        map[string]map[string]string `json:"covers"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &meta) != nil || len(meta.DominantColor) != 7 {
		t.Fatalf("GET meta.json = %d %s", resp.StatusCode, body)
	}
	n, _ := strconv.ParseUint(meta.DominantColor[1:], 16, 32)
	want := [3]float64{float64(n >> 16 & 0xff), float64(n >> 8 & 0xff), float64(n & 0xff)}

	// A 2:3 cover in a 2:1 box: 200 px of cover between two 200 px pads.
	for _, path := range []string{"/covers/B-FIT/600x300f.jpg", "/covers/B-FIT/card.jpg"} {
		img := getJPEG(t, svc, path, 600, 300)
		for _, x := range []int{5, 100, 190, 410, 500, 594} {
			for _, y := range []int{5, 150, 294} {
				got := regionColour(img, image.Rect(x, y, x+1, y+1))
				if dist(got, want) > 8 {
					t.Fatalf("GET %s pixel (%d,%d) = %v; want the pad, the dominant colour %s %v", path, x, y, got, meta.DominantColor, want)
				}
			}
		}
		if dist(regionColour(img, image.Rect(210, 0, 390, 300)), want) < 20 {
			t.Errorf("GET %s: the middle is the pad colour; want the cover there", path)
		}
	}
	if _, ok := meta.Covers["card"]["jpg"]; !ok {
		t.Errorf("meta.json covers = %v, want the card preset listed", meta.Covers)
	}

	t.Run("fit and fill are two variants, each cached", func(t *testing.T) {
		renders := svc.app.renderer.Renders()
		fill := getJPEG(t, svc, "/covers/B-FIT/300x300.jpg", 300, 300)
		fit := getJPEG(t, svc, "/covers/B-FIT/300x300f.jpg", 300, 300)
		if got := svc.app.renderer.Renders() - renders; got != 2 {
			t.Errorf("300x300 and 300x300f rendered %d times, want 2", got)
		}
		if dist(regionColour(fit, image.Rect(0, 0, 40, 300)), want) > 8 || dist(regionColour(fill, image.Rect(0, 0, 40, 300)), regionColour(fit, image.Rect(0, 0, 40, 300))) < 4 {
			t.Errorf("left edge: fit %v, fill %v; want the pad in the fit only", regionColour(fit, image.Rect(0, 0, 40, 300)), regionColour(fill, image.Rect(0, 0, 40, 300)))
		}
		first, _ := do(t, http.MethodGet, svc.signed("/covers/B-FIT/300x300f.jpg"), nil)
		second, _ := do(t, http.MethodGet, svc.signed("/covers/B-FIT/300x300f.jpg"), nil)
		if first.Header.Get("ETag") == "" || first.Header.Get("ETag") != second.Header.Get("ETag") || svc.app.renderer.Renders()-renders != 2 {
			t.Errorf("GET 300x300f again: ETags %q, %q, renders %d; want the same ETag and no render", first.Header.Get("ETag"), second.Header.Get("ETag"), svc.app.renderer.Renders()-renders)
		}
	})

	t.Run("never enlarged", func(t *testing.T) {
		// 50x75 in 200x100: the box shrinks to 150x75, the cover at 50x75.
		resp, body := do(t, http.MethodGet, svc.signed("/covers/B-TINY/200x100f.webp"), nil)
		info, err := transform.Probe(body, 0)
		if resp.StatusCode != http.StatusOK || err != nil || info.Width != 150 || info.Height != 75 {
			t.Errorf("GET 200x100f of a 50x75 cover = %d %dx%d (%v), want 150x75", resp.StatusCode, info.Width, info.Height, err)
		}
	})

	t.Run("grammar", func(t *testing.T) {
		for _, p := range []string{"/covers/B-FIT/320f.webp", "/covers/B-FIT/300x300F.webp", "/covers/B-FIT/300x0300f.webp", "/covers/B-FIT/300x300ff.webp"} {
			resp, body := do(t, http.MethodGet, svc.signed(p), nil)
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("GET %s = %d, want 400", p, resp.StatusCode)
				continue
			}
			assertErrorBody(t, p, resp, body, "bad_size")
		}
		resp, _ := do(t, http.MethodGet, svc.base+"/covers/B-FIT/300x300f.webp", nil)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("unsigned fit = %d, want 403", resp.StatusCode)
		}
	})
}

// getJPEG gets a signed cover path, decodes it as a JPEG of w x h.
func getJPEG(t *testing.T, svc *service, path string, w, h int) image.Image {
	t.Helper()
	resp, body := do(t, http.MethodGet, svc.signed(path), nil)
	img, err := jpeg.Decode(bytes.NewReader(body))
	if resp.StatusCode != http.StatusOK || err != nil || img.Bounds().Dx() != w || img.Bounds().Dy() != h {
		t.Fatalf("GET %s = %d, %v (%v); want a %dx%d JPEG", path, resp.StatusCode, err, boundsOf(img), w, h)
	}
	return img
}

func boundsOf(img image.Image) image.Rectangle {
	if img == nil {
		return image.Rectangle{}
	}
	return img.Bounds()
}

// regionColour is the average 8-bit colour of r in img (meanColour).
func regionColour(img image.Image, r image.Rectangle) [3]float64 {
	return meanColour(img.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(r))
}

// dist is the largest per-channel difference of two colours.
func dist(a, b [3]float64) float64 {
	return max(math.Abs(a[0]-b[0]), math.Abs(a[1]-b[1]), math.Abs(a[2]-b[2]))
}
