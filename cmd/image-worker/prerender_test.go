package main

import (
	"maps"
	"strings"
	"testing"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
)

func TestPrerenderConfig(t *testing.T) {
	t.Parallel()
	presets := func() []ingest.PrerenderVariant {
		var out []ingest.PrerenderVariant
		for _, w := range []int{96, 160, 320, 640, 1280} {
			out = append(out, ingest.PrerenderVariant{Width: w, Format: cover.WebP}, ingest.PrerenderVariant{Width: w, Format: cover.AVIF})
		}
		return out
	}
	cases := []struct {
		name    string
		env     map[string]string
		want    []ingest.PrerenderVariant
		wantErr string
	}{
		{"unset: every preset in both formats", nil, presets(), ""},
		{"empty: off", map[string]string{"PRERENDER": ""}, nil, ""},
		{"off", map[string]string{"PRERENDER": "off"}, nil, ""},
		{"none", map[string]string{"PRERENDER": " None "}, nil, ""},
		{"list", map[string]string{"PRERENDER": "medium.webp, 320x480.avif,640"}, []ingest.PrerenderVariant{
			{Width: 320, Format: cover.WebP}, {Width: 320, Height: 480, Format: cover.AVIF},
			{Width: 640, Format: cover.WebP}, {Width: 640, Format: cover.AVIF},
		}, ""},
		{"jpg only when named", map[string]string{"PRERENDER": "large.jpg,320x480.JPG,96"}, []ingest.PrerenderVariant{
			{Width: 640, Format: cover.JPEG}, {Width: 320, Height: 480, Format: cover.JPEG},
			{Width: 96, Format: cover.WebP}, {Width: 96, Format: cover.AVIF},
		}, ""},
		{"presets follow COVER_SIZES", map[string]string{"COVER_SIZES": "a=100,b=200,c=100"}, []ingest.PrerenderVariant{
			{Width: 100, Format: cover.WebP}, {Width: 100, Format: cover.AVIF},
			{Width: 200, Format: cover.WebP}, {Width: 200, Format: cover.AVIF},
		}, ""},
		{"box and fit presets", map[string]string{"COVER_SIZES": "a=100,card=600x315f,sq=200x200,b=100"}, []ingest.PrerenderVariant{
			{Width: 100, Format: cover.WebP}, {Width: 100, Format: cover.AVIF},
			{Width: 200, Height: 200, Format: cover.WebP}, {Width: 200, Height: 200, Format: cover.AVIF},
			{Width: 600, Height: 315, Fit: true, Format: cover.WebP}, {Width: 600, Height: 315, Fit: true, Format: cover.AVIF},
		}, ""},
		{"fit boxes", map[string]string{"PRERENDER": "600x315f.jpg,200x300f"}, []ingest.PrerenderVariant{
			{Width: 600, Height: 315, Fit: true, Format: cover.JPEG},
			{Width: 200, Height: 300, Fit: true, Format: cover.WebP}, {Width: 200, Height: 300, Fit: true, Format: cover.AVIF},
		}, ""},
		{"bad items named", map[string]string{"PRERENDER": "medium.png,medium.jpeg,huge,5000,320x0,320f,320x480F,0320,320"}, nil, `["medium.png" "medium.jpeg" "huge" "5000" "320x0" "320f" "320x480F" "0320"]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"IMAGE_SIGNING_KEYS": testKeyHex, "KAFKA_BROKERS": ""}
			maps.Copy(env, c.env)
			cfg, err := loadConfig(lookupMap(env))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), "PRERENDER") || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("loadConfig(PRERENDER=%q) error = %v, want one naming PRERENDER and %s", c.env["PRERENDER"], err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("loadConfig(%v): %v", c.env, err)
			}
			got := cfg.Prerender.Variants
			if len(got) != len(c.want) {
				t.Fatalf("PRERENDER %v = %v, want %v", c.env, got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("PRERENDER %v variant %d = %+v, want %+v", c.env, i, got[i], c.want[i])
				}
			}
		})
	}
}
