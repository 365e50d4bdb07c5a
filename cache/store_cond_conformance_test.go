package cache

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
)

// runConditionalConformance: conditional writes are compare-and-swap, and
// ListPage pages through a prefix in order.
func runConditionalConformance(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("PutIfNoneMatchCreatesOnce", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		create := Condition{IfNoneMatch: true}
		etag, err := s.PutIf(t.Context(), "leases/a", []byte("one"), "text/plain", create)
		if err != nil {
			t.Fatalf("PutIf(create) on a new key = %v, want nil", err)
		}
		if got, _ := s.Get(t.Context(), "leases/a"); got.ETag != etag || etag == "" {
			t.Errorf("PutIf returned ETag %q, Get reports %q; want the same, not empty", etag, got.ETag)
		}
		_, err = s.PutIf(t.Context(), "leases/a", []byte("two"), "text/plain", create)
		if !errors.Is(err, ErrPrecondition) {
			t.Fatalf("PutIf(create) on an existing key = %v, want ErrPrecondition", err)
		}
		if got, _ := s.Get(t.Context(), "leases/a"); string(got.Data) != "one" {
			t.Errorf("after a refused create the object holds %q, want %q", got.Data, "one")
		}
	})
	t.Run("PutIfMatchSwapsOnlyTheReadVersion", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		mustPutObject(t, s, "m/b1", []byte("v1"), "application/json")
		first, err := s.Get(t.Context(), "m/b1")
		if err != nil || first.ETag == "" {
			t.Fatalf("Get = %+v, %v; want an ETag", first.ETag, err)
		}
		if _, err := s.PutIf(t.Context(), "m/b1", []byte("v2"), "application/json", Condition{IfMatch: first.ETag}); err != nil {
			t.Fatalf("PutIf(IfMatch current) = %v, want nil", err)
		}
		second, _ := s.Get(t.Context(), "m/b1")
		if second.ETag == first.ETag || string(second.Data) != "v2" {
			t.Fatalf("after the swap: %q with ETag %q (before %q), want v2 with a new ETag", second.Data, second.ETag, first.ETag)
		}
		_, err = s.PutIf(t.Context(), "m/b1", []byte("v3"), "application/json", Condition{IfMatch: first.ETag})
		if !errors.Is(err, ErrPrecondition) {
			t.Fatalf("PutIf(IfMatch stale ETag) = %v, want ErrPrecondition", err)
		}
		_, err = s.PutIf(t.Context(), "m/missing", []byte("x"), "", Condition{IfMatch: first.ETag})
		if !errors.Is(err, ErrPrecondition) {
			t.Fatalf("PutIf(IfMatch) on a missing key = %v, want ErrPrecondition", err)
		}
		if _, err := s.PutIf(t.Context(), "m/b1", []byte("x"), "", Condition{}); err == nil {
			t.Error("PutIf without a condition = nil, want an error")
		}
	})
	t.Run("PutIfRacersOneWins", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		mustPutObject(t, s, "race/k", []byte("0"), "")
		base, err := s.Get(t.Context(), "race/k")
		if err != nil {
			t.Fatal(err)
		}
		const racers = 8
		var wg sync.WaitGroup
		errs := make([]error, racers)
		for i := range racers {
			wg.Go(func() {
				_, errs[i] = s.PutIf(t.Context(), "race/k", fmt.Appendf(nil, "racer %d", i), "", Condition{IfMatch: base.ETag})
			})
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, ErrPrecondition):
				t.Errorf("racer %d: %v, want nil or ErrPrecondition", i, err)
			}
		}
		if won != 1 {
			t.Errorf("%d of %d racers swapped the same version, want exactly 1", won, racers)
		}
	})
	t.Run("ListPage", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		var want []string
		for i := range 25 {
			k := fmt.Sprintf("open/%03d", i)
			want = append(want, k)
			mustPutObject(t, s, k, []byte("x"), "")
		}
		mustPutObject(t, s, "opener", []byte("x"), "")
		mustPutObject(t, s, "other/1", []byte("x"), "")
		var got []string
		after, pages := "", 0
		for {
			page, err := s.ListPage(t.Context(), "open/", after, 10)
			if err != nil {
				t.Fatalf("ListPage(after %q) = %v", after, err)
			}
			pages++
			got = append(got, page...)
			if len(page) < 10 {
				break
			}
			after = page[len(page)-1]
		}
		if !slices.Equal(got, want) || pages != 3 {
			t.Errorf("paged listing = %v in %d pages, want %v in 3", got, pages, want)
		}
		if _, err := s.ListPage(t.Context(), "open/", "", 0); err == nil {
			t.Error("ListPage(limit 0) = nil error, want one")
		}
	})
}
