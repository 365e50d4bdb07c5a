// Package systemtest holds the system tests: they build the real binary
// from cmd/image-worker and drive it as a black box, through its
// subcommands, signals and HTTP on loopback, with the real servers around it
// that the tests start (MinIO, PostgreSQL, nginx on deploy/nginx/cdn.conf,
// Prometheus with deploy/prometheus/alerts.yaml, a Kafka-protocol broker).
// A cluster of three processes, SIGTERM drains and SIGKILLs, overload and
// peak RSS, groupcache peers, the CDN edge, the Prometheus scrape, the demo
// page of `make run` in headless Chromium (browser_test.go, the DevTools
// protocol over a pipe) and the soak (build tag soak, `make soak`) live here.
//
// Tests that build the service in process (newApp) and look at its parts
// stay in cmd/image-worker. Both use internal/replica to run the binary and
// internal/loadloop for their load.
//
// This file is the package's only non-test file: it imports nothing.
package systemtest
