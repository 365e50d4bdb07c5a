package cache

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bookcovers/image-worker/cover"
)

// TestPanicsInSharedWorkFailOnlyThatWork: a fill (a render) that panics
// inside groupcache's load, a manifest read and an original read that panic
// inside a singleflight all come back as errors wrapping ErrPanic with the
// stack; the process lives on, the panic is counted, and the next call
// works.
func TestPanicsInSharedWorkFailOnlyThatWork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	local, err := NewLocalStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var explode atomic.Bool
	explode.Store(true)
	fill := func(context.Context, cover.VariantKey) ([]byte, error) {
		if explode.Load() {
			panic("codec bug")
		}
		return []byte("variant bytes"), nil
	}
	v := newTestVariants(t, local, fill, nil)
	_, err = v.Get(ctx, testVariantKey)
	if !errors.Is(err, ErrPanic) || !strings.Contains(err.Error(), "codec bug") || !strings.Contains(err.Error(), "goroutine") {
		t.Fatalf("Get with a panicking fill = %v; want ErrPanic with the value and the stack", err)
	}
	explode.Store(false)
	if b, err := v.Get(ctx, testVariantKey); err != nil || string(b) != "variant bytes" {
		t.Fatalf("Get after the panic = %q, %v; want the variant", b, err)
	}
	if err := v.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	broken := &panicStore{Store: local}
	ms := NewManifests(broken, 0, 0)
	if _, err := ms.Current(ctx, "B1"); !errors.Is(err, ErrPanic) {
		t.Errorf("Manifests.Current over a panicking store = %v; want ErrPanic", err)
	}
	o := NewOriginals(broken, 1<<20)
	if _, err := o.Get(ctx, cover.OriginalKey("B1", "3f9a1c2b7d4e")); !errors.Is(err, ErrPanic) {
		t.Errorf("Originals.Get over a panicking store = %v; want ErrPanic", err)
	}
	for component, s := range map[string]*strings.Builder{"variants": {}, "manifests": {}, "originals": {}} {
		switch component {
		case "variants":
			v.Metrics().WritePrometheus(s)
		case "manifests":
			ms.Metrics().WritePrometheus(s)
		case "originals":
			o.Metrics().WritePrometheus(s)
		}
		if want := `covers_panics_total{component="` + component + `"} 1`; !strings.Contains(s.String(), want) {
			t.Errorf("metrics of %s lack %q", component, want)
		}
	}
}

// panicStore panics on every read.
type panicStore struct{ Store }

func (panicStore) Get(context.Context, string) (Object, error) { panic("store client bug") }
