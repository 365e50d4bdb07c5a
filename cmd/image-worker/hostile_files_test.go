package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/davidbyttow/govips/v2/vips"
	"golang.org/x/image/webp"

	"github.com/bookcovers/image-worker/internal/hostile"
	"github.com/bookcovers/image-worker/transform"
)

// hostileCase is one original posted to /process: the job must fail with
// code, or succeed when code is "" (then check looks at what GET serves).
// With mayPass, the job may also succeed (libvips decoded the file with
// fail on at ingest); check then looks at what GET serves.
type hostileCase struct {
	name    string
	data    []byte
	code    string
	mayPass bool
	check   func(t *testing.T, svc *service, book string)
}

// withoutCoverQuality turns the cover-quality rules off (README, Cover
// quality) for tests about decoding and rendering unusual originals: a
// solid colour, 1x1 or 1x20000 is a valid image that the rules would refuse
// as a placeholder before it is stored (quality_integration_test.go tests
// the rules).
var withoutCoverQuality = map[string]string{"PLACEHOLDER_MIN_SIDE": "0", "PLACEHOLDER_MIN_BYTES": "0", "PLACEHOLDER_MIN_DEVIATION": "0"}

// runHostile posts every case through POST /process as its own book, each a
// subtest, and finally requires the service to be alive.
func runHostile(t *testing.T, svc *service, src *source, cases []hostileCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			book := bookIDFor(c.name)
			j := processAndWait(t, svc, book, src.add("/hostile/"+book+".jpg", c.data))
			passed := j.State == "succeeded"
			switch {
			case c.code == "" && !passed:
				t.Fatalf("job = %+v, want succeeded", j)
			case c.mayPass && passed:
			case c.code != "" && (j.State != "failed" || j.Error == nil || j.Error.Code != c.code || j.Error.Message == ""):
				t.Fatalf("job = %+v, want failed with %q", j, c.code)
			}
			if c.check != nil && passed {
				c.check(t, svc, book)
			}
			if !passed { // a refused original leaves the book on its placeholder
				resp, _ := do(t, http.MethodGet, svc.signed("/covers/"+book+"/320.webp"), nil)
				if resp.StatusCode != 200 || resp.Header.Get("X-Cover-Placeholder") != "true" {
					t.Errorf("GET cover of refused book = %d placeholder=%q, want 200 placeholder", resp.StatusCode, resp.Header.Get("X-Cover-Placeholder"))
				}
			}
		})
	}
	if resp, _ := do(t, http.MethodGet, svc.base+"/health", nil); resp.StatusCode != 200 {
		t.Fatalf("/health after hostile originals = %d", resp.StatusCode)
	}
}

// bookIDFor turns a case name into a valid book id.
func bookIDFor(name string) string {
	b := []byte("H-" + name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			b[i] = '-'
		}
	}
	return string(b)
}

// processAndWait posts a warm request and polls its job until it finishes,
// failing t (a subtest's own) rather than the service's test.
func processAndWait(t *testing.T, svc *service, book, imageURL string) jobView {
	t.Helper()
	body := `{"book_id":"` + book + `","image_url":"` + imageURL + `"}`
	resp, err := http.Post(svc.base+"/process", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST /process: %v", err)
	}
	var accepted struct {
		JobID string `json:"job_id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&accepted)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || err != nil || accepted.JobID == "" {
		t.Fatalf("POST /process %s = %d (%v), want 202 with a job id", book, resp.StatusCode, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, b := do(t, http.MethodGet, svc.base+"/jobs/"+accepted.JobID, nil)
		var j jobView
		if resp.StatusCode == http.StatusOK && json.Unmarshal(b, &j) == nil && (j.State == "succeeded" || j.State == "failed") {
			return j
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("job %s of %s did not finish in 30s", accepted.JobID, book)
	return jobView{}
}

// TestDecompressionBombsAreRefusedBeforeDecoding: originals declaring tens of
// thousands of pixels per side are refused with too_many_pixels from their
// header, and libvips never sees them.
func TestDecompressionBombsAreRefusedBeforeDecoding(t *testing.T) {
	src := newSource(t)
	svc := startService(t, localStore(t), src, nil)
	cases := []hostileCase{
		{name: "png 30000x30000 complete 1-bit zlib bomb", data: hostile.PNGBomb(30000, 30000), code: "too_many_pixels"},
		{name: "png 10000x10000 over the pixel budget", data: hostile.PNGBomb(10000, 10000), code: "too_many_pixels"},
		{name: "jpeg SOF declaring 40000x40000", data: hostile.JPEGDeclaring(40000, 40000), code: "too_many_pixels"},
		{name: "webp VP8X canvas 30000x30000", data: webpVP8X(t, 30000, 30000), code: "too_many_pixels"},
		{name: "webp VP8X canvas 70000x1 over the side limit", data: webpVP8X(t, 70000, 1), code: "too_many_pixels"},
		{name: "gif screen 30000x30000 one tiny frame", data: hostile.GIFScreen(30000, 30000), code: "too_many_pixels"},
	}
	before := svc.app.renderer.Renders()
	runHostile(t, svc, src, cases)
	if n := svc.app.renderer.Renders() - before; n != 0 {
		t.Errorf("libvips renders after %d bombs = %d, want 0", len(cases), n)
	}
}

// TestBrokenAndDisguisedFilesAreRefused: cut files are refused at the door
// (not_an_image); files complete in structure but corrupt inside are
// decoded once at ingest and either refused (corrupt_image) or stored, and
// then a stored one renders: an original that cannot be rendered is never
// stored. Non-images renamed .jpg are refused by their magic bytes.
func TestBrokenAndDisguisedFilesAreRefused(t *testing.T) {
	src := newSource(t)
	svc := startService(t, localStore(t), src, nil)
	jpg := readTestdata(t, "photo-1600x2400-baseline.jpg")
	pngb := encodePNG(t, hostile.Noise(64, 96))
	gifb := readTestdata(t, "cover-240x360-animated-6frames.gif")
	webpb := webpOf(t, hostile.Noise(64, 96))
	rendered := func(t *testing.T, svc *service, book string) {
		resp, body := do(t, http.MethodGet, svc.signed("/covers/"+book+"/64.webp"), nil)
		if resp.StatusCode != 200 || resp.Header.Get("X-Cover-Placeholder") == "true" {
			t.Fatalf("GET variant of a stored original = %d placeholder=%q %s, want 200 and the cover", resp.StatusCode, resp.Header.Get("X-Cover-Placeholder"), body)
		}
		if d := decodeVariant(t, body); d.width != 64 {
			t.Errorf("variant of a stored original = %dx%d, want 64 wide", d.width, d.height)
		}
		t.Logf("decoded at ingest despite the garbage, and rendered")
	}
	cases := []hostileCase{
		{name: "zero bytes", data: []byte{}, code: "not_an_image"},
		{name: "jpeg cut at 60%", data: jpg[:len(jpg)*6/10], code: "not_an_image"},
		{name: "png cut at 70%", data: pngb[:len(pngb)*7/10], code: "not_an_image"},
		{name: "gif cut at 50%", data: gifb[:len(gifb)/2], code: "not_an_image"},
		{name: "webp cut at 60%", data: webpb[:len(webpb)*6/10], code: "not_an_image"},
		{name: "jpeg header only", data: jpg[:600], code: "not_an_image"},
		{name: "jpeg garbage in the middle", data: garble(jpg), code: "corrupt_image", mayPass: true, check: rendered},
		{name: "png garbage in the middle", data: garble(pngb), code: "corrupt_image", mayPass: true, check: rendered},
		{name: "gif garbage in the middle", data: garble(gifb), code: "corrupt_image", mayPass: true, check: rendered},
		{name: "webp garbage in the middle", data: garble(webpb), code: "corrupt_image", mayPass: true, check: rendered},
		{name: "html renamed jpg", data: []byte("<!DOCTYPE html><html><head><script>alert(1)</script></head><body><img src=x></body></html>"), code: "not_an_image"},
		{name: "pdf renamed jpg", data: []byte("%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"), code: "not_an_image"},
		{name: "svg renamed jpg", data: []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="600" height="900"><rect width="600" height="900"/></svg>`), code: "unsupported_type"},
		{name: "plain text renamed jpg", data: []byte("this is not a cover, just some text\n"), code: "not_an_image"},
		{name: "jpeg magic then text", data: append([]byte{0xFF, 0xD8, 0xFF}, "not really a jpeg"...), code: "not_an_image"},
	}
	runHostile(t, svc, src, cases)
}

// TestSVGWithRemoteReferencesIsRefusedWithoutFetching: SVG is off by default,
// so an SVG with an external entity, an <image href> and a stylesheet on a
// "remote" server is refused (unsupported_type) and nothing ever connects to
// that server, also when padding pushes <svg past the sniffed first KiB.
func TestSVGWithRemoteReferencesIsRefusedWithoutFetching(t *testing.T) {
	src := newSource(t)
	svc := startService(t, localStore(t), src, nil)
	remote, conns := forbiddenListener(t)
	r := "http://" + remote.Addr().String()
	xxe := `<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "` + r + `/xxe.txt">]>` +
		`<?xml-stylesheet href="` + r + `/style.css"?>` +
		`<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="600" height="900">` +
		`<image href="` + r + `/a.png" width="600" height="900"/><image xlink:href="` + r + `/b.png"/><text>&xxe;</text></svg>`
	padded := `<?xml version="1.0"?><!-- ` + strings.Repeat("pad ", 400) + ` -->` + xxe[len(`<?xml version="1.0"?>`):]
	runHostile(t, svc, src, []hostileCase{
		{name: "svg external entity and remote hrefs", data: []byte(xxe), code: "unsupported_type"},
		// Past the first KiB the sniffer no longer sees <svg: still refused, as not an image.
		{name: "svg behind a 1.6 KiB comment", data: []byte(padded), code: "not_an_image"},
	})
	time.Sleep(200 * time.Millisecond)
	if n := conns.Load(); n != 0 {
		t.Errorf("the remote server referenced by the SVGs got %d connections, want 0", n)
	}
}

// TestPolyglotsServeOnlyReencodedImages: what is accepted is a valid,
// complete image with extra bytes where decoders ignore them (a JPEG comment
// with a script, a ZIP after the JPEG end, HTML after the PNG end, a GIF
// comment extension). Storing such an original is fine: it is private, and
// clients only ever get variants re-encoded by libvips, which carry none of
// the payload. A GIF with HTML after its trailer is refused, because the
// completeness check wants the trailer as the GIF's last byte.
func TestPolyglotsServeOnlyReencodedImages(t *testing.T) {
	src := newSource(t)
	svc := startService(t, localStore(t), src, withoutCoverQuality) // the originals are solid red
	base := solid(48, 72, color.RGBA{200, 30, 30, 255})
	jpg := encodeJPEG(t, base)
	payloads := []string{"<script>", "alert(", "PK\x03\x04", "<html"}
	clean := func(t *testing.T, svc *service, book string) {
		resp, body := do(t, http.MethodGet, svc.signed("/covers/"+book+"/48.webp"), nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/webp" {
			t.Fatalf("GET variant = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		d := decodeVariant(t, body)
		if d.width != 48 || d.height != 72 || binary.LittleEndian.Uint32(body[4:8])+8 != uint32(len(body)) {
			t.Errorf("variant = %dx%d, RIFF size %d for %d bytes; want 48x72 with nothing after the RIFF", d.width, d.height, binary.LittleEndian.Uint32(body[4:8]), len(body))
		}
		if c := meanColour(d.img); c[0] < 150 || c[1] > 80 || c[2] > 80 {
			t.Errorf("variant colour = %v, want the red image", c)
		}
		for _, p := range payloads {
			if bytes.Contains(body, []byte(p)) {
				t.Errorf("variant carries the payload %q", p)
			}
		}
	}
	cases := []hostileCase{
		{name: "jpeg with script in a comment segment", data: hostile.JPEGWithComment(jpg, "*/=alert(1)/*<script>alert(1)</script>"), check: clean},
		{name: "jpeg with a zip appended", data: append(bytes.Clone(jpg), zipOf(t, "payload.js", "alert(1)")...), check: clean},
		{name: "png with html appended", data: append(encodePNG(t, base), "<html><script>alert(1)</script></html>"...), check: clean},
		{name: "gif with script in a comment extension", data: gifWithComment(t, base, "<script>alert(1)</script>"), check: clean},
		{name: "gif with html after the trailer", data: append(encodeGIF(t, base), "<html><script>alert(1)</script></html>"...), code: "not_an_image"},
	}
	runHostile(t, svc, src, cases)
}

// TestUnusualValidImagesRender: valid but unusual originals are stored and
// render to the right size and colours: thousands of GIF frames (only the
// first is used; Probe stops counting at 1000 without decoding), extreme
// aspect ratios, 1x1, 16-bit and palette PNGs, CMYK JPEG without a profile.
func TestUnusualValidImagesRender(t *testing.T) {
	src := newSource(t)
	svc := startService(t, localStore(t), src, withoutCoverQuality)
	frames := manyFrameGIF(t, 240, 360, 5000)
	if info, err := transform.Probe(frames, 0); err != nil || info.Frames != 1000 || info.Width != 240 {
		t.Fatalf("Probe(5000-frame GIF) = %+v, %v; want 240 wide with Frames capped at 1000", info, err)
	}
	wantVariant := func(path string, size wantSize, colour func([3]float64) bool) func(*testing.T, *service, string) {
		return func(t *testing.T, svc *service, book string) { checkVariant(t, svc, book, path, size, colour, false) }
	}
	red := func(c [3]float64) bool { return c[0] > 180 && c[1] < 70 && c[2] < 70 }
	orange := func(c [3]float64) bool { return c[0] > 200 && c[1] > 90 && c[1] < 170 && c[2] < 60 }
	grey := func(c [3]float64) bool { return c[0] > 100 && c[0] < 160 && c[0]-c[2] < 12 && c[2]-c[0] < 12 }
	tall := solid(1, 20000, color.RGBA{128, 128, 128, 255})
	wide := solid(20000, 1, color.RGBA{128, 128, 128, 255})
	// A variant of the 1x20000 original keeps its aspect within 16383 px
	// per side (the WebP limit, and libheif's default limit for AVIF), so it
	// renders and decodes.
	tallVariant := wantSize{w: 1, minH: 1, maxH: 16383}
	cases := []hostileCase{
		{name: "gif with 3000 frames uses the first", data: manyFrameGIF(t, 240, 360, 3000), check: wantVariant("320.webp", exact(240, 360), red)},
		// libvips' GIF loader (libnsgif) refuses more than about 4100
		// frames; only the first frame is handed to it, so this renders.
		{name: "gif with 5000 frames uses the first", data: frames, check: wantVariant("320.webp", exact(240, 360), red)},
		{name: "1x20000 webp", data: encodePNG(t, tall), check: wantVariant("320.webp", tallVariant, grey)},
		{name: "1x20000 avif", data: encodePNG(t, tall), check: wantVariant("320.avif", tallVariant, grey)},
		{name: "20000x1", data: encodePNG(t, wide), check: wantVariant("320.webp", exact(320, 1), grey)},
		{name: "1x1", data: encodePNG(t, solid(1, 1, color.RGBA{200, 30, 30, 255})), check: wantVariant("320.webp", exact(1, 1), red)},
		{name: "16-bit png", data: encodePNG(t, orange16(64, 96)), check: wantVariant("64.webp", exact(64, 96), orange)},
		{name: "palette png", data: encodePNG(t, paletted(64, 96)), check: wantVariant("32.webp", exact(32, 48), red)},
		{name: "cmyk jpeg without profile", data: readTestdata(t, "photo-1600x2400-cmyk-noprofile.jpg"), check: wantVariant("320.webp", exact(320, 480), nil)},
	}
	runHostile(t, svc, src, cases)
}

// wantSize is the expected size of a variant: width w, height in minH..maxH.
type wantSize struct{ w, minH, maxH int }

func exact(w, h int) wantSize { return wantSize{w, h, h} }

// checkVariant GETs a variant of book within 5 s and wants it of the given
// size, sRGB with 3 bands, of the right colour; with mayRefuse a 422
// unusable_original is accepted instead (a clean refusal of an original
// libvips cannot use).
func checkVariant(t *testing.T, svc *service, book, path string, size wantSize, colour func([3]float64) bool, mayRefuse bool) {
	t.Helper()
	start := time.Now()
	resp, body := do(t, http.MethodGet, svc.signed("/covers/"+book+"/"+path), nil)
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("GET %s took %v, want under 5s", path, el)
	}
	if mayRefuse && resp.StatusCode == http.StatusUnprocessableEntity {
		assertErrorBody(t, "GET "+path, resp, body, "unusable_original")
		t.Logf("GET %s: refused with 422 unusable_original", path)
		return
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d %s, want 200", path, resp.StatusCode, body)
	}
	d := decodeVariant(t, body)
	if d.width != size.w || d.height < size.minH || d.height > size.maxH || d.bands != 3 || d.interp != vips.InterpretationSRGB {
		t.Errorf("GET %s = %dx%d, %d bands, %v; want %d x %d..%d, sRGB with 3 bands", path, d.width, d.height, d.bands, d.interp, size.w, size.minH, size.maxH)
	}
	if c := meanColour(d.img); colour != nil && !colour(c) {
		t.Errorf("GET %s mean colour = %.0f, not the original's", path, c)
	}
}

// variantInfo is what decoding a served variant tells.
type variantInfo struct {
	width, height, bands int
	interp               vips.Interpretation
	img                  image.Image
}

// decodeVariant decodes a variant with libvips (size, bands, colour space)
// and its pixels with golang.org/x/image/webp (WebP) or through a PNG
// written by libvips (AVIF).
func decodeVariant(t *testing.T, body []byte) variantInfo {
	t.Helper()
	ref, err := vips.NewImageFromBuffer(body)
	if err != nil {
		msg, _, _ := strings.Cut(err.Error(), "Stack:")
		t.Fatalf("the served variant (%d bytes) does not decode with libvips: %s", len(body), strings.Join(strings.Fields(msg), " "))
	}
	defer ref.Close()
	var img image.Image
	if bytes.HasPrefix(body, []byte("RIFF")) {
		img, err = webp.Decode(bytes.NewReader(body))
	} else {
		var pngBytes []byte
		if pngBytes, _, err = ref.ExportPng(vips.NewPngExportParams()); err == nil {
			img, err = png.Decode(bytes.NewReader(pngBytes))
		}
	}
	if err != nil {
		t.Fatalf("decode the variant's pixels: %v", err)
	}
	return variantInfo{ref.Width(), ref.Height(), ref.Bands(), ref.Interpretation(), img}
}

// meanColour is the average 8-bit RGB of img.
func meanColour(img image.Image) [3]float64 {
	var s [3]float64
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			s[0], s[1], s[2] = s[0]+float64(r>>8), s[1]+float64(g>>8), s[2]+float64(bl>>8)
		}
	}
	n := float64(b.Dx() * b.Dy())
	return [3]float64{s[0] / n, s[1] / n, s[2] / n}
}
