package cache

import (
	"github.com/golang/groupcache"
)

// PeerBasePath is the URL prefix of the groupcache peer protocol. It is
// mounted on the internal listener only.
const PeerBasePath = "/_groupcache/"

// NewPeerPool creates this process's groupcache HTTP pool with self as its own
// base URL and the given peers (self included or not). groupcache allows one
// pool per process, so cmd calls this once; the pool is an http.Handler to be
// mounted at PeerBasePath on the internal router.
func NewPeerPool(self string, peers []string) *groupcache.HTTPPool {
	pool := groupcache.NewHTTPPoolOpts(self, &groupcache.HTTPPoolOptions{BasePath: PeerBasePath})
	all := append([]string{self}, peers...)
	pool.Set(dedupe(all)...)
	return pool
}

func dedupe(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := in[:0:0]
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
