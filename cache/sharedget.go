package cache

import (
	"context"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/golang/groupcache"
)

// sharedGet gets skey from group on its own goroutine, on lctx (a context
// already detached from the caller) bounded by timeout, and waits for it
// under ctx (await: the caller's context, its store budget while reading
// says the load is still reading the store). A panic in the load fails
// this get alone, counted in panics.
func sharedGet(ctx, lctx context.Context, timeout time.Duration, group Group, skey string, panics *metrics.Counter, what string, reading func() bool) ([]byte, error) {
	lctx, cancel := context.WithTimeout(lctx, timeout)
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		defer cancel()
		var (
			view groupcache.ByteView
			err  error
		)
		defer func() { ch <- result{viewBytes(view), err} }()
		defer recoverTo(&err, panics, what+skey)
		err = group.Get(lctx, skey, groupcache.ByteViewSink(&view))
	}()
	r, err := await(ctx, ch, reading)
	if err == nil {
		err = r.err
	}
	return r.b, err
}

// byteGrabber captures the slice a ByteView writes, without copying it.
type byteGrabber struct{ b []byte }

func (g *byteGrabber) Write(p []byte) (int, error) { g.b = p; return len(p), nil }

// viewBytes returns the bytes behind a groupcache ByteView without a copy.
// The values this cache stores are always byte-backed and never modified.
func viewBytes(view groupcache.ByteView) []byte {
	var g byteGrabber
	_, _ = view.WriteTo(&g)
	return g.b
}
