// Command loadbench is the load driver of `make bench`: it starts MinIO (or
// uses one it is given), imports originals, starts the real image-worker
// binary on loopback and runs five scenarios, each interleaved with the
// baseline it is judged against, in one process and one run:
//
//  1. render: unique never-seen variants at 1 and 2 clients, WebP and AVIF,
//     against the floor: the same transform.Renderer.Render calls made in
//     this process (no HTTP, no store), the same widths in the same order.
//  2. hit: one cached variant at 64 connections against a bare net/http
//     handler (a child process of this binary, `loadbench bare`) that
//     answers the same bytes and headers.
//  3. herd: 200 concurrent requests for one new variant; renders counted
//     from the service's metrics.
//  4. catalog: a Zipf stream over 2,000 variants at 16 clients on a fresh
//     process whose store already holds part of the catalog; hit ratio per
//     tier from covers_cache_lookups_total.
//  5. overload: unique new variants offered open-loop at 4x the render
//     capacity measured in scenario 1, while a hit client runs; hit req/s
//     against the same client with no overload before and after; peak RSS.
//
// It prints a markdown table and writes results/latest.md, latest.json and
// latest.png (latency percentiles and ratios). Run `loadbench -h` for flags;
// bench/README.md explains what each number means.
//
// Every socket is on 127.0.0.1. The load client speaks HTTP/1.1 over raw
// keep-alive connections (client.go) so that it costs little and the same
// for the service and for its baseline.
//
// It exports no metrics: it reads the service's.
package main
