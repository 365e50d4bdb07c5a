package cache

import (
	"context"
	"errors"
	"fmt"

	"github.com/golang/groupcache"
)

// Group is the groupcache group a cache reads through: a *groupcache.Group.
// groupcache keeps a process-wide registry of groups by name, and peers ask
// each other for a key by its group's name, so a cache does not create its
// group: cmd creates each one once per process, with the name of the
// cache's config (the same on every replica), the cache's GroupBytes and
// its Getter, and hands it over with Use.
type Group interface {
	Name() string
	Get(ctx context.Context, key string, dest groupcache.Sink) error
	CacheStats(which groupcache.CacheType) groupcache.CacheStats
}

// ErrNoGroup is what a cache answers when it is asked to serve before it
// was handed its group (Use).
var ErrNoGroup = errors.New("no groupcache group: create it with the cache's Getter and hand it over with Use")

// groupSlot is where a cache keeps the group it was handed.
type groupSlot struct {
	name  string // the name the group must have: the config's GroupName
	group Group  // nil until Use
}

// use takes g as the group, once; it refuses nil, a second group and a
// group of another name.
func (s *groupSlot) use(g Group) error {
	switch {
	case g == nil:
		return fmt.Errorf("use group %q: %w", s.name, ErrNoGroup)
	case s.group != nil:
		return fmt.Errorf("use group %q: the cache has its group already", s.name)
	case g.Name() != s.name:
		return fmt.Errorf("use group %q: the group is named %q", s.name, g.Name())
	}
	s.group = g
	return nil
}

// get returns the group, or ErrNoGroup before Use.
func (s *groupSlot) get() (Group, error) {
	if s.group == nil {
		return nil, fmt.Errorf("group %q: %w", s.name, ErrNoGroup)
	}
	return s.group, nil
}

// stats adds up the group's main and hot caches; zero before Use.
func (s *groupSlot) stats() groupcache.CacheStats {
	if s.group == nil {
		return groupcache.CacheStats{}
	}
	main, hot := s.group.CacheStats(groupcache.MainCache), s.group.CacheStats(groupcache.HotCache)
	return groupcache.CacheStats{Bytes: main.Bytes + hot.Bytes, Items: main.Items + hot.Items}
}
