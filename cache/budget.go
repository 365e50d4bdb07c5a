package cache

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// A store budget bounds, together, every store call made on behalf of one
// request: the manifest read, the variant read and the original read share
// one deadline (STORE_TIMEOUT after the request began). It travels in the
// context as a value, not as the context's deadline, so it bounds nothing
// else: a render may take longer than the budget.
//
// Reads shared between callers (singleflight, groupcache) run detached with
// their own budget, the same length from the moment they start, and a
// caller stops waiting for one when its own budget runs out while the
// shared work is still reading the store. A caller keeps waiting for shared
// work past its reads (a render, or a store write of what was rendered).

type storeBudgetKey struct{}

// storeBudget is the value behind storeBudgetKey.
type storeBudget struct {
	deadline time.Time
	// readsDone, set on the context of a variant fill, ends its reading
	// phase (StoreReadsDone).
	readsDone func()
}

// budgetCtx is a context carrying a store budget: one allocation where
// WithValue of a *storeBudget takes two (every cover request makes one).
type budgetCtx struct {
	context.Context
	b storeBudget
}

func (c *budgetCtx) Value(key any) any {
	if _, ok := key.(storeBudgetKey); ok {
		return &c.b
	}
	return c.Context.Value(key)
}

// WithStoreBudget returns ctx with a store budget that ends at deadline. The
// store calls made for it by Manifests, Variants, Originals and Metas,
// directly or as shared work it waits for, end by then with an error
// wrapping ErrTimeout. A budget set again replaces the earlier one.
func WithStoreBudget(ctx context.Context, deadline time.Time) context.Context {
	return &budgetCtx{Context: ctx, b: storeBudget{deadline: deadline}}
}

// StoreDeadline returns the end of ctx's store budget, if it has one.
func StoreDeadline(ctx context.Context) (time.Time, bool) {
	if b, ok := ctx.Value(storeBudgetKey{}).(*storeBudget); ok {
		return b.deadline, true
	}
	return time.Time{}, false
}

// StoreReadsDone tells the variant cache that the fill running on ctx has
// read from the store all it needs: requests waiting for the fill stop
// counting their store budget, for what follows is a render. A fill that
// never calls it counts as reading until it returns. Calling it on any
// other context does nothing.
func StoreReadsDone(ctx context.Context) {
	if b, ok := ctx.Value(storeBudgetKey{}).(*storeBudget); ok && b.readsDone != nil {
		b.readsDone()
	}
}

// withBudget bounds ctx by its store budget for one store call.
func withBudget(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := StoreDeadline(ctx); ok {
		return context.WithDeadline(ctx, d)
	}
	return ctx, func() {}
}

// budgetRecheck is how often a caller past its budget looks again whether
// the shared work it waits for has (re)started reading the store: a
// replica that owns the key may have failed, so this one reads instead.
const budgetRecheck = 50 * time.Millisecond

// errBudgetSpent is what a caller gets when its store budget ran out while
// the shared work it waited for was still reading the store.
var errBudgetSpent = fmt.Errorf("store budget spent: %w", ErrTimeout)

// await waits for a shared result on ch until ctx ends or, while reading
// reports that the shared work is reading the store, until ctx's store
// budget runs out (errBudgetSpent). Without a budget it waits for ch or ctx.
func await[T any](ctx context.Context, ch <-chan T, reading func() bool) (T, error) {
	var spent <-chan time.Time
	if d, ok := StoreDeadline(ctx); ok {
		t := time.NewTimer(time.Until(d))
		defer t.Stop()
		spent = t.C
	}
	for {
		select {
		case r := <-ch:
			return r, nil
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		case <-spent:
			select {
			case r := <-ch: // a result that came at the same time wins
				return r, nil
			default:
			}
			if reading() {
				var zero T
				return zero, errBudgetSpent
			}
			spent = time.After(budgetRecheck)
		}
	}
}

// alwaysReading is the reading func of shared work that only reads.
func alwaysReading() bool { return true }

// storeReads counts, by key, the shared loads of this process that are
// reading the store, so that their waiters can tell a load held up by the
// store from one that is rendering.
type storeReads struct {
	mu sync.Mutex
	n  map[string]int
}

// begin marks a load of key as reading. The returned func ends it; calls
// after the first do nothing.
func (r *storeReads) begin(key string) (end func()) {
	r.mu.Lock()
	if r.n == nil {
		r.n = map[string]int{}
	}
	r.n[key]++
	r.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			if r.n[key]--; r.n[key] <= 0 {
				delete(r.n, key)
			}
			r.mu.Unlock()
		})
	}
}

// active reports whether a load of key is reading the store.
func (r *storeReads) active(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[key] > 0
}
