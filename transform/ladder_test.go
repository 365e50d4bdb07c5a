package transform

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/bookcovers/image-worker/cover"
)

// defaultLadder is the service's default PRERENDER: the five COVER_SIZES
// presets (widths) in WebP and AVIF.
func defaultLadder() []Request {
	var reqs []Request
	for _, w := range []int{96, 160, 320, 640, 1280} {
		for _, f := range []cover.Format{cover.WebP, cover.AVIF} {
			reqs = append(reqs, Request{Width: w, Format: f})
		}
	}
	return reqs
}

// maxLadderSSIMLoss is how far (1 - SSIM) a ladder output may be from the
// single render of its request.
const maxLadderSSIMLoss = 0.005

func TestRenderLadderMatchesSingleRenders(t *testing.T) {
	boxes := []Request{
		{Width: 320, Height: 480, Format: cover.WebP},
		{Width: 200, Height: 200, Format: cover.AVIF},
		{Width: 600, Height: 300, Format: cover.WebP},
		{Width: 96, Format: cover.WebP},
	}
	cases := []struct {
		name string
		file string
		reqs []Request
	}{
		{"default ladder on the baseline JPEG", "photo-1600x2400-baseline.jpg", defaultLadder()},
		{"boxes and a width on the baseline JPEG", "photo-1600x2400-baseline.jpg", boxes},
		{"alpha PNG", "cover-800x1200-alpha.png", append(defaultLadder()[:6:6], boxes...)},
		{"CMYK JPEG with profile", "photo-1600x2400-cmyk-icc.jpg", defaultLadder()[:6]},
		{"Adobe RGB JPEG", "photo-1600x2400-adobergb-icc.jpg", defaultLadder()[:6]},
		{"EXIF orientation 6", "photo-exif-orientation-6.jpg", append(defaultLadder()[:4:4], boxes[:2]...)},
		{"panorama", "panorama-4272x356.jpg", append(defaultLadder()[:4:4], boxes[:3]...)},
		{"animated GIF first frame", "cover-240x360-animated-6frames.gif", append(defaultLadder()[:4:4], boxes[:2]...)},
		{"enlarge past the original", "cover-50x75-tiny.jpg", []Request{{Width: 40, Format: cover.WebP}, {Width: 100, Format: cover.WebP, Enlarge: true}, {Width: 120, Height: 120, Format: cover.AVIF, Enlarge: true}}},
	}
	r := newTestRenderer(t, nil)
	worst := 1.0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := testdata(t, c.file)
			before := r.Renders()
			got, err := r.RenderLadder(context.Background(), src, c.reqs)
			if err != nil {
				t.Fatalf("RenderLadder(%s, %d requests): %v", c.file, len(c.reqs), err)
			}
			if n := r.Renders() - before; n != 1 {
				t.Errorf("Renders() grew by %d for one ladder; want 1 worker operation", n)
			}
			if len(got) != len(c.reqs) {
				t.Fatalf("RenderLadder returned %d results for %d requests", len(got), len(c.reqs))
			}
			for i, req := range c.reqs {
				want := render(t, r, src, req)
				lo, so := decodeOutput(t, got[i].Bytes), decodeOutput(t, want.Bytes)
				name := fmt.Sprintf("%s %dx%d enlarge=%v", req.Format, req.Width, req.Height, req.Enlarge)
				if got[i].Format != req.Format || lo.format != req.Format || got[i].ContentType != req.Format.ContentType() {
					t.Errorf("%s: ladder output format %q (magic %q, %q), want %q", name, got[i].Format, lo.format, got[i].ContentType, req.Format)
				}
				if lo.width != so.width || lo.height != so.height || got[i].Width != want.Width || got[i].Height != want.Height {
					t.Errorf("%s: ladder output %dx%d (reported %dx%d), single render %dx%d", name, lo.width, lo.height, got[i].Width, got[i].Height, so.width, so.height)
					continue
				}
				if lo.bands != so.bands || lo.interpretation != so.interpretation {
					t.Errorf("%s: ladder output %d bands %v, single render %d bands %v", name, lo.bands, lo.interpretation, so.bands, so.interpretation)
				}
				if f := lo.metadataFields(); len(f) != 0 {
					t.Errorf("%s: ladder output keeps metadata %v", name, f)
				}
				s := ssim(t, lo.pixels, so.pixels)
				worst = min(worst, s)
				t.Logf("%s: %dx%d, SSIM %.5f against the single render", name, lo.width, lo.height, s)
				if s < 1-maxLadderSSIMLoss {
					t.Errorf("%s: SSIM %.5f against the single render, want >= %.3f", name, s, 1-maxLadderSSIMLoss)
				}
			}
		})
	}
	t.Logf("lowest SSIM of a ladder output against its single render: %.5f", worst)
}

func TestRenderLadderEachFailsAlone(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, nil)
	src := testdata(t, "photo-1600x2400-baseline.jpg")
	reqs := []Request{{Width: 160, Format: cover.WebP}, {Width: 0, Format: cover.WebP}, {Width: 96, Format: "png"}, {Width: 96, Format: cover.AVIF}}
	res, errs, err := r.RenderLadderEach(context.Background(), src, reqs)
	if err != nil {
		t.Fatalf("RenderLadderEach: %v", err)
	}
	for i, want := range []error{nil, ErrInvalidRequest, cover.ErrUnsupportedFormat, nil} {
		if want == nil {
			if errs[i] != nil || res[i].Width != reqs[i].Width {
				t.Errorf("output %d: %dx%d, %v; want width %d", i, res[i].Width, res[i].Height, errs[i], reqs[i].Width)
			}
			continue
		}
		if !errors.Is(errs[i], want) {
			t.Errorf("output %d: error %v, want %v", i, errs[i], want)
		}
	}
	if _, err := r.RenderLadder(context.Background(), src, reqs); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("RenderLadder with a bad request = %v, want ErrInvalidRequest", err)
	}
	if _, err := r.RenderLadder(context.Background(), src, nil); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("RenderLadder of nothing = %v, want ErrInvalidRequest", err)
	}
	if _, err := r.RenderLadder(context.Background(), []byte("not an image"), reqs[:1]); !errors.Is(err, ErrNotAnImage) {
		t.Errorf("RenderLadder of a non-image = %v, want ErrNotAnImage", err)
	}
}

// TestRenderLadderRendersOneByOneOverTheShareLimit: with a pixel budget so
// small that the full decode of the 800x1200 PNG is over the share limit,
// the ladder still makes every output, in one worker operation, by single
// renders.
func TestRenderLadderRendersOneByOneOverTheShareLimit(t *testing.T) {
	t.Parallel()
	r := newTestRenderer(t, func(c *Config) { c.MaxPixels = 1_000_000 })
	if limit := (engine{cfg: r.cfg}).shareLimit(); limit >= 800*1200*4 {
		t.Fatalf("share limit %d: the test needs it below the PNG's %d bytes", limit, 800*1200*4)
	}
	src := testdata(t, "cover-800x1200-alpha.png")
	reqs := []Request{{Width: 96, Format: cover.WebP}, {Width: 320, Format: cover.AVIF}, {Width: 200, Height: 200, Format: cover.WebP}}
	got, err := r.RenderLadder(context.Background(), src, reqs)
	if err != nil {
		t.Fatalf("RenderLadder: %v", err)
	}
	if r.Renders() != 1 {
		t.Errorf("Renders() = %d, want 1 operation", r.Renders())
	}
	for i, req := range reqs {
		want := render(t, r, src, req)
		lo, so := decodeOutput(t, got[i].Bytes), decodeOutput(t, want.Bytes)
		if lo.format != req.Format || lo.width != so.width || lo.height != so.height {
			t.Errorf("%+v: ladder %s %dx%d, single %s %dx%d", req, lo.format, lo.width, lo.height, so.format, so.width, so.height)
			continue
		}
		if s := ssim(t, lo.pixels, so.pixels); s < 1-maxLadderSSIMLoss {
			t.Errorf("%+v: SSIM %.5f against the single render", req, s)
		}
	}
}

func TestCheckLadderRefusesMismatchedResponses(t *testing.T) {
	t.Parallel()
	ok := ladderOutput{Width: 1, Height: 1, Len: 3}
	failed := ladderOutput{Code: "render_failed", Message: "x"}
	cases := []struct {
		name    string
		outputs []ladderOutput
		body    int
		n       int
		wantErr bool
	}{
		{"matching", []ladderOutput{ok, failed, ok}, 6, 3, false},
		{"too few outputs", []ladderOutput{ok}, 3, 2, true},
		{"lengths over the payload", []ladderOutput{ok, ok}, 5, 2, true},
		{"negative length", []ladderOutput{{Len: -1}}, 0, 1, true},
		{"failed output with bytes", []ladderOutput{{Code: "render_failed", Len: 3}}, 3, 1, true},
	}
	for _, c := range cases {
		err := checkLadder(workerResponse{Outputs: c.outputs}, make([]byte, c.body), c.n)
		if (err != nil) != c.wantErr || err != nil && !errors.Is(err, ErrRenderFailed) {
			t.Errorf("%s: checkLadder = %v, want error %v (ErrRenderFailed)", c.name, err, c.wantErr)
		}
	}
}
