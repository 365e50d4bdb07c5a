package cache

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
)

// stallStore is a local store whose Gets of keys under stall never answer
// until their context ends (a SIGSTOPped MinIO), and whose Gets of keys
// under slow answer after slowBy.
type stallStore struct {
	Store
	stall, slow string
	slowBy      time.Duration
	stalled     atomic.Int64 // Gets waiting now
}

func (s *stallStore) Get(ctx context.Context, key string) (Object, error) {
	var wait <-chan time.Time
	switch {
	case s.stall != "" && strings.HasPrefix(key, s.stall):
	case s.slow != "" && strings.HasPrefix(key, s.slow):
		wait = time.After(s.slowBy)
	default:
		return s.Store.Get(ctx, key)
	}
	s.stalled.Add(1)
	defer s.stalled.Add(-1)
	select {
	case <-wait:
		return s.Store.Get(ctx, key)
	case <-ctx.Done():
		return Object{}, ctxError(opGet, ctx.Err())
	}
}

// waitUnstalled fails the test unless every stalled Get has ended within d:
// a shared fill does not hold a store call past its own bound.
func (s *stallStore) waitUnstalled(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for s.stalled.Load() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d store reads still waiting %v later; want every read of a fill ended by its own store bound", s.stalled.Load(), d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// budgetFixture is a local store holding book B1 at testVariantKey's version
// (its manifest and original) behind a stallStore, with the manifests,
// originals and variants that cmd wires on it.
type budgetFixture struct {
	store     *stallStore
	manifests *Manifests
	variants  *Variants
	renders   atomic.Int64
}

func newBudgetFixture(t *testing.T, storeTimeout, render time.Duration) *budgetFixture {
	t.Helper()
	local := newLocalTestStore(t, t.TempDir())
	f := &budgetFixture{store: &stallStore{Store: local}}
	f.manifests = NewManifests(f.store, time.Minute, storeTimeout)
	if err := f.manifests.Put(t.Context(), cover.Manifest{BookID: "B1", Version: testVariantKey.Version}); err != nil {
		t.Fatal(err)
	}
	f.manifests.Forget("B1")
	if err := local.Put(t.Context(), cover.OriginalKey("B1", testVariantKey.Version), []byte("original"), "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	originals := NewOriginals(f.store, 1<<20)
	fill := func(ctx context.Context, key cover.VariantKey) ([]byte, error) {
		original, err := originals.Get(ctx, key.OriginalKey())
		if err != nil {
			return nil, err
		}
		StoreReadsDone(ctx)
		f.renders.Add(1)
		time.Sleep(render)
		return append([]byte("variant of "), original...), nil
	}
	f.variants = newTestVariants(t, f.store, fill, func(c *VariantsConfig) { c.StoreTimeout = storeTimeout })
	return f
}

// cover is what proxy does for a cover: the manifest, then the variant,
// under one store budget.
func (f *budgetFixture) cover(ctx context.Context, budget time.Duration) (Variant, error) {
	ctx = WithStoreBudget(ctx, time.Now().Add(budget))
	m, err := f.manifests.Current(ctx, "B1")
	if err != nil {
		return Variant{}, err
	}
	key := testVariantKey
	key.Version = m.Version
	return f.variants.GetVariant(ctx, key)
}

// TestStoreBudgetIsSharedByARequestsCalls: the manifest read uses part of
// the budget and the variant only gets what remains, whichever store read
// of the fill stalls; the fill's own reads end by their own bound, and no
// render starts after a failed read.
func TestStoreBudgetIsSharedByARequestsCalls(t *testing.T) {
	t.Parallel()
	const (
		budget       = time.Second
		manifestTook = 600 * time.Millisecond // then the rest of the budget is 400ms
		margin       = 350 * time.Millisecond // a fresh budget for the variant would end 600ms later
	)
	for _, stall := range []string{cover.VariantsPrefix(), cover.OriginalsPrefix()} {
		t.Run("stalled "+strings.TrimSuffix(stall, "/"), func(t *testing.T) {
			t.Parallel()
			f := newBudgetFixture(t, budget, 0)
			f.store.slow, f.store.slowBy, f.store.stall = cover.ManifestsPrefix(), manifestTook, stall
			start := time.Now()
			_, err := f.cover(t.Context(), budget)
			took := time.Since(start)
			if !errors.Is(err, ErrTimeout) || took < budget-50*time.Millisecond || took > budget+margin {
				t.Errorf("cover with the manifest read taking %v and %s stalled = %v after %v; want ErrTimeout after the %v budget", manifestTook, stall, err, took, budget)
			}
			f.store.waitUnstalled(t, budget+margin)
			if n := f.renders.Load(); n != 0 {
				t.Errorf("renders = %d after the store phase failed, want 0", n)
			}
		})
	}
}

// TestStoreBudgetDoesNotBoundTheRender: a render longer than the budget,
// after reads within it, is waited for.
func TestStoreBudgetDoesNotBoundTheRender(t *testing.T) {
	t.Parallel()
	const budget = 300 * time.Millisecond
	f := newBudgetFixture(t, budget, 3*budget)
	v, err := f.cover(t.Context(), budget)
	if want := []byte("variant of original"); err != nil || !bytes.Equal(v.Bytes, want) {
		t.Errorf("cover with a %v render and a %v budget = %q, %v; want %q", 3*budget, budget, v.Bytes, err, want)
	}
}

// TestStoreBudgetServesAStaleManifest: when the budget runs out while the
// store is stalled, a manifest past its TTL is served stale at once (not
// when the shared load gives up); a book never seen fails with ErrTimeout.
func TestStoreBudgetServesAStaleManifest(t *testing.T) {
	t.Parallel()
	const budget = 300 * time.Millisecond
	local := newLocalTestStore(t, t.TempDir())
	store := &stallStore{Store: local}
	ms := NewManifests(store, time.Minute, 10*budget)
	clock := time.Now()
	ms.now = func() time.Time { return clock }
	if err := ms.Put(t.Context(), cover.Manifest{BookID: "B1", Version: "aaaaaaaaaaaa"}); err != nil {
		t.Fatal(err)
	}
	store.stall = cover.ManifestsPrefix()
	clock = clock.Add(2 * time.Minute) // past the TTL
	cases := []struct {
		book    string
		version string
		err     error
	}{
		{"B1", "aaaaaaaaaaaa", nil},
		{"NEVER", "", ErrTimeout},
	}
	for _, c := range cases {
		start := time.Now()
		ctx := WithStoreBudget(t.Context(), start.Add(budget))
		m, err := ms.Current(ctx, c.book)
		took := time.Since(start)
		if m.Version != c.version || !errors.Is(err, c.err) || took > budget+300*time.Millisecond {
			t.Errorf("Current(%s) with the store stalled = %q, %v after %v; want %q, %v within the %v budget", c.book, m.Version, err, took, c.version, c.err, budget)
		}
	}
	var sb strings.Builder
	ms.Metrics().WritePrometheus(&sb)
	if !strings.Contains(sb.String(), `covers_cache_manifest_lookups_total{result="stale"} 1`) {
		t.Errorf("stale lookup not counted once:\n%s", sb.String())
	}
}

// TestStoreBudgetLeavesOtherWaitersAlone: a caller whose budget runs out
// stops waiting; one without a budget (a job, a backfill) gets the shared
// read's answer when the store does.
func TestStoreBudgetLeavesOtherWaitersAlone(t *testing.T) {
	t.Parallel()
	const budget = 200 * time.Millisecond
	local := newLocalTestStore(t, t.TempDir())
	if err := local.Put(t.Context(), cover.OriginalKey("B1", "v1"), []byte("original"), "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	store := &stallStore{Store: local, slow: cover.OriginalsPrefix(), slowBy: 3 * budget}
	o := NewOriginals(store, 1<<20)
	patient := make(chan error, 1)
	go func() {
		_, err := o.Get(t.Context(), cover.OriginalKey("B1", "v1"))
		patient <- err
	}()
	for store.stalled.Load() == 0 { // the patient caller's read is under way
		time.Sleep(time.Millisecond)
	}
	ctx := WithStoreBudget(t.Context(), time.Now().Add(budget))
	if _, err := o.Get(ctx, cover.OriginalKey("B1", "v1")); !errors.Is(err, ErrTimeout) {
		t.Errorf("Get with a %v budget of an original read in %v = %v; want ErrTimeout", budget, 3*budget, err)
	}
	if err := <-patient; err != nil {
		t.Errorf("Get without a budget of the same read = %v; want the original", err)
	}
}
