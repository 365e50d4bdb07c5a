package main

import "testing"

// TestCoversMinIO runs the end-to-end suite against the real MinIO that
// `make test` starts (skipped without it, failed when COVERS_REQUIRE_SERVERS=1).
func TestCoversMinIO(t *testing.T) { runCoverSuite(t, minioStore) }
