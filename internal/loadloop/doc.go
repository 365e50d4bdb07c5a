// Package loadloop is the load of the tests (system tests in systemtest/ and
// the in-process ones in cmd/image-worker): N workers calling one function,
// released together, until they are stopped or have made their calls,
// counting the outcome each call returns.
//
// One loop serves every shape the tests need: a stampede of N requests at
// once (Each: 1), N workers sharing a list of jobs (Total), a steady load
// until the test stops it (Start, then Stop), and a background round every
// so often (Pause).
//
// What it does not do: it sends no request itself and judges nothing; the
// function does the work and the test reads the counts. It imports no
// package of this module.
//
// Metrics: none.
package loadloop
