package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/signing"
	"github.com/golang/groupcache"
)

// stalledStore is a store whose reads, once stalled is set, never answer
// until their context ends, as a SIGSTOPped MinIO; writes go to the local
// store underneath.
type stalledStore struct {
	cache.Store
	stalled *atomic.Bool
}

func (s stalledStore) Get(ctx context.Context, key string) (cache.Object, error) {
	if !s.stalled.Load() {
		return s.Store.Get(ctx, key)
	}
	<-ctx.Done()
	return cache.Object{}, fmt.Errorf("store get %s: %w: %w", key, cache.ErrTimeout, ctx.Err())
}

// TestStoreBudgetAnswers504: with the store stalled, a cover or meta.json
// request answers 504 storage_timeout with Retry-After when its
// STORE_TIMEOUT runs out, whichever read stalls (the manifest, the
// variant, the metadata), although every shared load has a longer bound.
func TestStoreBudgetAnswers504(t *testing.T) {
	t.Parallel()
	const budget = 300 * time.Millisecond
	local, err := cache.NewLocalStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := stalledStore{Store: local, stalled: new(atomic.Bool)}
	logger := slog.New(slog.DiscardHandler)
	manifests := cache.NewManifests(store, time.Hour, 10*budget)
	// B2's manifest is in memory: its requests stall on the variant or metadata read.
	if err := manifests.Put(t.Context(), cover.Manifest{BookID: "B2", Version: "3f9a1c2b7d4e"}); err != nil {
		t.Fatal(err)
	}
	store.stalled.Store(true)
	vcfg := cache.DefaultVariantsConfig()
	vcfg.GroupName = fmt.Sprintf("proxy-budget-%d", benchGroupSeq.Add(1))
	vcfg.StoreTimeout = 10 * budget
	fill := func(context.Context, cover.VariantKey) ([]byte, error) { return nil, fmt.Errorf("no render expected") }
	variants, err := cache.NewVariants(vcfg, store, fill, logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := variants.Use(groupcache.NewGroup(vcfg.GroupName, variants.GroupBytes(), variants.Getter())); err != nil {
		t.Fatal(err)
	}
	mcfg := cache.DefaultMetasConfig()
	mcfg.StoreTimeout = 10 * budget
	metas, err := cache.NewMetas(mcfg, store, nil, logger)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signing.New(signing.Config{Keys: [][]byte{make([]byte, 32)}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.StoreTimeout = budget
	srv, err := New(cfg, wired(Deps{Manifests: manifests, Variants: variants, Metas: metas, Verifier: signer, Signer: signer, Logger: logger}))
	if err != nil {
		t.Fatal(err)
	}
	handler := srv.Public()

	cases := []struct{ name, method, path string }{
		{"manifest stalls", http.MethodGet, "/covers/B1/320.webp"},
		{"variant stalls", http.MethodGet, "/covers/B2/320.webp"},
		{"variant stalls, HEAD", http.MethodHead, "/covers/B2/160.avif"},
		{"metadata stalls", http.MethodGet, "/covers/B2/meta.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			u, err := signer.SignedURL(c.path)
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			start := time.Now()
			handler.ServeHTTP(rec, httptest.NewRequest(c.method, u, nil))
			took := time.Since(start)
			var body errorBody
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != http.StatusGatewayTimeout || c.method == http.MethodGet && body.Error.Code != "storage_timeout" {
				t.Errorf("%s %s with the store stalled = %d %s; want 504 storage_timeout", c.method, c.path, rec.Code, rec.Body.Bytes())
			}
			if ra, cc := rec.Header().Get("Retry-After"), rec.Header().Get("Cache-Control"); ra != "1" || cc != "no-store" {
				t.Errorf("%s %s: Retry-After %q, Cache-Control %q; want 1 and no-store", c.method, c.path, ra, cc)
			}
			if took < budget-20*time.Millisecond || took > budget+500*time.Millisecond {
				t.Errorf("%s %s answered after %v; want at the %v store budget (the shared loads' own bound is %v)", c.method, c.path, took, budget, 10*budget)
			}
		})
	}
}

func TestRetryAfterOnPassingFailures(t *testing.T) {
	t.Parallel()
	h := &handlers{cfg: DefaultConfig(), log: slog.New(slog.DiscardHandler)}
	cases := []struct {
		name  string
		err   error
		retry bool
	}{
		{"store unavailable", cache.ErrUnavailable, true},
		{"store timeout", cache.ErrTimeout, true},
		{"request deadline", context.DeadlineExceeded, false},
		{"no cover", errNoCover, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.writeError(rec, httptest.NewRequest(http.MethodGet, "/covers/B1/320.webp", nil), fmt.Errorf("cover: %w", c.err))
			if got := rec.Header().Get("Retry-After") != ""; got != c.retry {
				t.Errorf("%d for %v: Retry-After %q; want present = %t", rec.Code, c.err, rec.Header().Get("Retry-After"), c.retry)
			}
		})
	}
}
