// Package proxy is the HTTP layer: the route tables of the public and the
// internal listener (routes.go), request parsing (coverpath.go, process.go),
// the one error→status mapping (errors.go), CDN cache headers (headers.go),
// the placeholder answer of a book without a cover (placeholder.go),
// and request ids, panic recovery, access logs and metrics (middleware.go).
// It holds no business logic: it calls small interfaces it declares.
//
// Config.AccessLog (ACCESS_LOG) logs every request; off, only 4xx/5xx are
// logged. Config.Pprof (PPROF) mounts net/http/pprof on the internal router.
// Config.StoreTimeout (STORE_TIMEOUT) is the store budget of a cover or
// meta.json request (cache.WithStoreBudget): past it, 504 storage_timeout
// with Retry-After.
//
// Routes are labelled health, ready, process, process_v2, jobs, covers, meta,
// purge, not_found and not_allowed.
//
// Metrics: covers_http_requests_total{route,status},
// covers_http_request_duration_seconds{route},
// covers_dependency_up{dependency} (1 or 0, from the readiness checks, at
// most 5 s old when scraped).
package proxy
