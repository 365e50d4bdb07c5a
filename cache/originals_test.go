package cache

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
)

func TestOriginalsReadEachOriginalOnce(t *testing.T) {
	t.Parallel()
	local := newLocalTestStore(t, t.TempDir())
	data := bytes.Repeat([]byte{7}, 1000)
	if err := local.Put(t.Context(), cover.OriginalKey("B1", "v1"), data, "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	s := &countingGetStore{Store: local, release: make(chan struct{})}
	o := NewOriginals(s, 1<<20)
	var wg sync.WaitGroup
	var bad atomic.Int64
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := o.Get(t.Context(), cover.OriginalKey("B1", "v1"))
			if err != nil || !bytes.Equal(got, data) {
				bad.Add(1)
			}
		}()
	}
	time.Sleep(20 * time.Millisecond) // let the callers pile up on the one read
	close(s.release)
	wg.Wait()
	if _, err := o.Get(t.Context(), cover.OriginalKey("B1", "v1")); err != nil {
		t.Fatal(err)
	}
	if n := s.gets.Load(); n != 1 || bad.Load() != 0 {
		t.Errorf("21 Gets of one original: %d store reads, %d wrong answers; want 1 and 0", n, bad.Load())
	}
	if _, err := o.Get(t.Context(), cover.OriginalKey("B1", "missing")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a missing original = %v, want ErrNotFound", err)
	}
	// Every Get is one read_original observation of the render time split.
	var buf bytes.Buffer
	o.Metrics().WritePrometheus(&buf)
	if want := `covers_render_phase_duration_seconds_count{phase="read_original"} 22`; !strings.Contains(buf.String(), want+"\n") {
		t.Errorf("metrics lack %q; got:\n%s", want, buf.String())
	}
}

func TestOriginalsEvictLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	local := newLocalTestStore(t, t.TempDir())
	for _, v := range []string{"a", "b", "c", "d", "e"} {
		if err := local.Put(t.Context(), cover.OriginalKey("B1", v), make([]byte, 1000), "image/jpeg"); err != nil {
			t.Fatal(err)
		}
	}
	s := &countingGetStore{Store: local}
	o := NewOriginals(s, 4000) // room for four
	reads := func(v string) int64 {
		before := s.gets.Load()
		if _, err := o.Get(t.Context(), cover.OriginalKey("B1", v)); err != nil {
			t.Fatal(err)
		}
		return s.gets.Load() - before
	}
	for _, v := range []string{"a", "b", "c", "d", "a", "e"} { // e evicts b, the least recently used
		reads(v)
		if o.bytes > 4000 {
			t.Fatalf("after %s: %d bytes held, over the 4000 bound", v, o.bytes)
		}
	}
	for _, c := range []struct {
		v    string
		want int64
	}{{"a", 0}, {"e", 0}, {"b", 1}} {
		if got := reads(c.v); got != c.want {
			t.Errorf("Get(%s): %d store reads, want %d", c.v, got, c.want)
		}
	}
}
