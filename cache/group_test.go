package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/golang/groupcache"
)

// grouped is a cache that reads through a groupcache group it is handed.
type grouped interface {
	Getter() groupcache.Getter
	GroupBytes() int64
	Use(Group) error
}

// useNewGroup creates c's group as cmd does (groupcache.NewGroup with the
// config's name, the cache's GroupBytes and Getter) and hands it over.
func useNewGroup(tb testing.TB, name string, c grouped) {
	tb.Helper()
	if err := c.Use(groupcache.NewGroup(name, c.GroupBytes(), c.Getter())); err != nil {
		tb.Fatalf("Use(group %q): %v", name, err)
	}
}

// TestCachesRefuseToServeWithoutTheirGroup: a cache built but never handed
// its group answers ErrNoGroup instead of panicking, and Use refuses nil, a
// group of another name and a second group.
func TestCachesRefuseToServeWithoutTheirGroup(t *testing.T) {
	t.Parallel()
	vcfg := DefaultVariantsConfig()
	vcfg.GroupName = fmt.Sprintf("variants-test-%d", variantsGroupSeq.Add(1))
	vcfg.CacheBytes = 8 << 20
	fill := &countingFill{}
	v, err := NewVariants(vcfg, newLocalTestStore(t, t.TempDir()), fill.fill, storeTestLogger())
	if err != nil {
		t.Fatalf("NewVariants: %v", err)
	}
	t.Cleanup(func() { _ = v.Flush(context.Background()) }) // the write behind lands before the directory goes
	pcfg := DefaultPlaceholdersConfig()
	pcfg.GroupName = fmt.Sprintf("placeholders-test-%d", variantsGroupSeq.Add(1))
	p, err := NewPlaceholders(pcfg, (&placeholderFill{}).fill)
	if err != nil {
		t.Fatalf("NewPlaceholders: %v", err)
	}
	caches := []struct {
		name  string
		group string
		c     grouped
		get   func() error
	}{
		{"variants", vcfg.GroupName, v, func() error { _, err := v.GetVariant(t.Context(), testVariantKey); return err }},
		{"placeholders", pcfg.GroupName, p, func() error { _, err := p.Placeholder(t.Context(), "B1", 320, 0, "webp"); return err }},
	}
	for _, c := range caches {
		if err := c.get(); !errors.Is(err, ErrNoGroup) || !strings.Contains(err.Error(), c.group) {
			t.Errorf("%s: a get before Use = %v, want ErrNoGroup naming group %q", c.name, err, c.group)
		}
		if err := c.c.Use(nil); !errors.Is(err, ErrNoGroup) {
			t.Errorf("%s: Use(nil) = %v, want ErrNoGroup", c.name, err)
		}
		other := c.group + "-other"
		if err := c.c.Use(groupcache.NewGroup(other, c.c.GroupBytes(), c.c.Getter())); err == nil || !strings.Contains(err.Error(), other) {
			t.Errorf("%s: Use(group %q) = %v, want a refusal naming the wrong name", c.name, other, err)
		}
		if err := c.get(); !errors.Is(err, ErrNoGroup) {
			t.Errorf("%s: a get after a refused Use = %v, want ErrNoGroup", c.name, err)
		}
		useNewGroup(t, c.group, c.c)
		if err := c.get(); err != nil {
			t.Errorf("%s: a get after Use = %v, want it served", c.name, err)
		}
		if err := c.c.Use(groupcache.NewGroup(c.group+"-second", c.c.GroupBytes(), c.c.Getter())); err == nil {
			t.Errorf("%s: a second Use = nil, want it refused", c.name)
		}
	}
	if n := fill.calls.Load(); n != 1 {
		t.Errorf("the variant fill ran %d times, want once (after Use)", n)
	}
}

// TestGroupSizes: the groups are created with the sizes the caches had
// when they created them themselves: CacheBytes less the hot index.
func TestGroupSizes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		bytes    int64
		hotBytes int64
		want     int64
	}{
		{"default hot index, an eighth", 256 << 20, 0, 256<<20 - 32<<20},
		{"hot index set", 8 << 20, 1 << 20, 7 << 20},
	}
	for _, c := range cases {
		cfg := DefaultVariantsConfig()
		cfg.CacheBytes, cfg.HotBytes = c.bytes, c.hotBytes
		v, err := NewVariants(cfg, nil, nil, storeTestLogger())
		if err != nil {
			t.Fatalf("%s: NewVariants: %v", c.name, err)
		}
		if got := v.GroupBytes(); got != c.want {
			t.Errorf("%s: variants GroupBytes = %d, want %d", c.name, got, c.want)
		}
	}
	p, err := NewPlaceholders(DefaultPlaceholdersConfig(), nil)
	if err != nil {
		t.Fatalf("NewPlaceholders: %v", err)
	}
	if got, want := p.GroupBytes(), int64(6<<20); got != want {
		t.Errorf("placeholders GroupBytes = %d, want %d (8 MiB less a quarter)", got, want)
	}
}
