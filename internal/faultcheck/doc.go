// Package faultcheck holds what the fault tests share, those that run the
// service in process (cmd/image-worker) and those that run the binary
// (systemtest/): a Kafka client to produce book_enriched events and read
// book_cover_ready results, the consumer group's lag, and the checks that
// nothing was lost: a book's cover is served, each book has exactly one
// original whose version is its manifest's and its last result event's,
// and no write-back is left in the outbox.
//
// What it does not do: it starts no broker or server (tests start kfake
// and the service themselves) and fails nothing but the test it is given.
//
// Metrics: none.
package faultcheck
