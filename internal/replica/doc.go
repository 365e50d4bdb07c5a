// Package replica runs the real image-worker binary for tests: it builds
// cmd/image-worker once per test process, imports covers with the import
// subcommand, starts replicas with `serve` on free loopback ports with the
// environment a test gives, waits until each answers /health, reads samples
// of its /metrics, and stops it (SIGTERM or SIGKILL, and always when the
// test ends).
//
// The system tests (systemtest/) drive the service only through it and
// HTTP; cmd/image-worker's tests use it where one process per replica is
// needed (groupcache's peer pool is once per process).
//
// What it does not do: it sets no environment variable a test did not ask
// for but PATH and the two listen addresses, starts no other server (see
// internal/testenv) and imports no package of this module.
//
// Metrics: none.
package replica
