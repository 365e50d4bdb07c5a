package cache

import "testing"

// TestManifestsOrderMinIO runs the ordering of manifests on real MinIO,
// whose conditional PUT (If-Match, If-None-Match) does the compare-and-swap.
func TestManifestsOrderMinIO(t *testing.T) {
	t.Parallel()
	minioFromEnv(t) // skip or fail once, before the subtests
	runManifestOrder(t, func(t *testing.T) Store { return newMinIOTestStore(t) }, 25)
}
