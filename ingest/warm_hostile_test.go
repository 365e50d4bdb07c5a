package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/internal/hostile"
	"github.com/bookcovers/image-worker/transform"
)

// newCheckingWarmer is a Warmer on a local store whose originals are checked
// by a real Renderer (render workers are this test binary, see TestMain).
func newCheckingWarmer(t *testing.T) (*Warmer, *cache.Manifests, cache.Store, *transform.Renderer) {
	t.Helper()
	cfg := transform.DefaultConfig()
	cfg.MaxPixels = hostile.MaxPixels
	cfg.WorkerCommand = []string{os.Args[0]}
	cfg.WorkerEnv = []string{testWorkerEnv + "=1"}
	r, err := transform.NewRenderer(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	store, err := cache.NewLocalStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	manifests := cache.NewManifests(store, time.Minute, 5*time.Second)
	return NewWarmer(nil, store, manifests, r, slog.New(slog.DiscardHandler)), manifests, store, r
}

// TestHostileOriginalNeverReplacesAGoodCover: a book with a good cover gets
// every hostile class as its next original (the path of POST /process,
// Kafka, import and backfill). Each is refused with its stable code and a
// fixed public message; nothing is stored under its version; the manifest
// still names the good original, which still renders. A book that never
// had a cover stays without one (its placeholder).
func TestHostileOriginalNeverReplacesAGoodCover(t *testing.T) {
	real, err := hostile.ReadReal("../testdata")
	if err != nil {
		t.Fatal(err)
	}
	w, manifests, store, r := newCheckingWarmer(t)
	ctx := context.Background()
	good, err := w.Store(ctx, "GOOD", "https://covers.example/good.jpg", real.JPEG, time.Now())
	if err != nil {
		t.Fatalf("store the good cover: %v", err)
	}
	corrupt := 0
	for _, c := range hostile.Classes(real) {
		if c.Code == hostile.CodeCorruptImage {
			corrupt++
		}
		t.Run(c.Name, func(t *testing.T) {
			_, err := w.Store(ctx, "GOOD", "https://covers.example/next", c.Data, time.Now())
			if code := Code(err); code != cover.Code(c.Code) || code.Message() == "internal error" {
				t.Fatalf("Store(%s) = %v (code %q); want code %q with its own message", c.Name, err, code, c.Code)
			}
			m, err := manifests.Load(ctx, "GOOD")
			if err != nil || m.Version != good.Version || m.SourceURL != good.SourceURL {
				t.Fatalf("manifest after a refused original = %+v, %v; want the good version %s", m, err, good.Version)
			}
			if _, err := store.Get(ctx, cover.OriginalKey("GOOD", Version(c.Data))); !errors.Is(err, cache.ErrNotFound) {
				t.Errorf("refused original stored anyway (Get = %v); want not found", err)
			}
			if _, err := w.Store(ctx, "NEVER", "https://covers.example/first", c.Data, time.Now()); Code(err) != cover.Code(c.Code) {
				t.Errorf("Store on a book without a cover = %v; want %q", err, c.Code)
			}
			if _, err := manifests.Load(ctx, "NEVER"); !errors.Is(err, cache.ErrNotFound) {
				t.Errorf("a book whose only original was refused has a manifest (Load = %v); want none, so it gets its placeholder", err)
			}
		})
	}
	var metrics strings.Builder
	r.Metrics().WritePrometheus(&metrics)
	want := fmt.Sprintf(`covers_transform_checks_total{result="error"} %d`, 2*corrupt)
	if !strings.Contains(metrics.String(), want+"\n") {
		t.Errorf("render worker checks: want %q (every corrupt original decoded and refused in a worker, twice); metrics:\n%s", want, metrics.String())
	}
	res, err := r.Render(ctx, real.JPEG, transform.Request{Width: 320, Format: cover.WebP})
	if err != nil || res.Width != 320 {
		t.Fatalf("the good original after every hostile class renders %dx%d, %v; want 320 wide", res.Width, res.Height, err)
	}
	if pids := r.WorkerPIDs(); len(pids) == 0 {
		t.Error("no render worker alive after the hostile classes")
	}
}
