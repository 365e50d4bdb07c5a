package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/transform"
)

// TestPrerenderAfterProcessMinIO: after POST /process, the PRERENDER
// variants (the five presets in WebP and AVIF) are in the store under their
// variant keys, made by ONE render operation (a ladder), and a GET of a
// preset is then answered without a render.
func TestPrerenderAfterProcessMinIO(t *testing.T) {
	src := newSource(t)
	u := src.add("/baseline.jpg", readTestdata(t, "photo-1600x2400-baseline.jpg"))
	svc := startService(t, minioStore(t), src, map[string]string{"PRERENDER": "thumb,small,medium,large,xlarge"})
	job := svc.warm("PRE-1", u)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := svc.app.prerender.Wait(ctx); err != nil {
		t.Fatalf("prerender did not finish: %v", err)
	}
	if n := svc.app.renderer.Renders(); n != 1 {
		t.Errorf("render operations after /process = %d, want 1 (one ladder for every variant)", n)
	}
	m, err := svc.app.manifests.Load(ctx, "PRE-1")
	if err != nil || m.Version != job.Version || m.Content == "" {
		t.Fatalf("manifest of PRE-1 = %+v, %v; want version %s stored by content", m, err, job.Version)
	}
	// Stored by content: the variants of the original, whichever book asks.
	keys, err := svc.store.List(ctx, m.Variant(96, 0, false, "webp").StorePrefix())
	if err != nil {
		t.Fatalf("List variants: %v", err)
	}
	if len(keys) != 10 {
		t.Errorf("stored variants = %d %v, want 10", len(keys), keys)
	}
	for _, w := range []int{96, 160, 320, 640, 1280} {
		for _, f := range []cover.Format{cover.WebP, cover.AVIF} {
			key := m.Variant(w, 0, false, string(f))
			obj, err := svc.store.Get(ctx, key.StoreKey())
			if err != nil {
				t.Errorf("stored variant %s: %v", key.StoreKey(), err)
				continue
			}
			info, err := transform.Probe(obj.Data, 0)
			if err != nil || string(info.Type) != string(f) || info.Width != w || info.Height != w*3/2 {
				t.Errorf("stored variant %s = %s %dx%d (%v), want %s %dx%d", key.StoreKey(), info.Type, info.Width, info.Height, err, f, w, w*3/2)
			}
		}
	}
	resp, body := do(t, http.MethodGet, svc.signed("/covers/PRE-1/medium.avif?v="+job.Version), nil)
	info, err := transform.Probe(body, 0)
	if resp.StatusCode != 200 || err != nil || info.Type != "avif" || info.Width != 320 {
		t.Errorf("GET medium.avif = %d %s %dx%d (%v), want 200 avif 320 wide", resp.StatusCode, info.Type, info.Width, info.Height, err)
	}
	if n := svc.app.renderer.Renders(); n != 1 {
		t.Errorf("render operations after a GET of a prerendered preset = %d, want still 1", n)
	}
}
