// Package proxy is the HTTP layer: the route tables of the public and the
// internal listener (routes.go), the components it calls (deps.go), request
// parsing (coverpath.go, process.go), the authorisation of a signed read
// (authorise.go), the one error→status mapping (errors.go), CDN cache
// headers (headers.go), the placeholder answer of a book without a cover
// (placeholder.go), and request ids, panic recovery, access logs and
// metrics (middleware.go). It holds no business logic and renders nothing:
// it calls only the small interfaces it declares (Deps), and variants and
// placeholders come through the cache fills cmd wires.
//
// New refuses a missing required dependency, naming the field, and puts the
// documented default in place of a missing optional one (Deps): no handler
// checks for nil. Without Deps.Metas, meta.json and POST /v2/process are
// not served (404 not_found); without Deps.Placeholders, or with
// Config.Placeholders off, a book without a cover is 404 no_cover.
//
// A cover and a meta.json URL pass one authorisation step (authoriseRead):
// accepted only in the byte form the signer emits (signing.CanonicalURL;
// checkCanonical in coverpath.go), so any other spelling is 400
// non_canonical_url before the signature is checked or anything looked up
// and one signature is one cache key at every layer; then the signature,
// the expiry, and only then the book's manifest. A cover's variant key is
// clamped to what the original can give (cover.ClampSize) before it is
// built.
//
// Errors: every error a handler returns names a code of the one code set
// (cover.Code; other packages make their sentinels with cover.NewError, so
// a render failure arriving through the cache fill is classified without
// importing transform), and statusTable maps codes to statuses, for a
// request's errors and a failed job's recorded code alike. Clients get the
// code's fixed text; the wrapped error goes to the log.
//
// Config.AccessLog (ACCESS_LOG) logs every request; off, only 4xx/5xx are
// logged. Config.Pprof (PPROF) mounts net/http/pprof on the internal router.
// Config.StoreTimeout (STORE_TIMEOUT) is the store budget of a cover or
// meta.json request (cache.WithStoreBudget): past it, 504 storage_timeout
// with Retry-After.
//
// Writes need bearer tokens on both listeners (auth.go): POST /process and
// /v2/process one of Config.ProcessTokens (PROCESS_TOKENS) when any are set,
// DELETE /covers/{book_id} Config.AdminToken; 401 unauthorized without a
// token, 403 forbidden with another, compared in constant time, never
// logged. Config.CheckVariantKey is the public path's key grammar, which the
// groupcache peer handler applies too.
//
// Config.AllowOrigins (ALLOW_ORIGINS) adds CORS to the cover and meta.json
// routes, their errors included, and OPTIONS answers their preflights
// (cors.go): empty sends no CORS header, "*" allows any origin, a list
// echoes a listed Origin and always varies on Origin (addVary joins any
// other Vary).
//
// The other side of /health is here too (probe.go): HealthURL and
// CheckHealth are the container's HEALTHCHECK (image-worker health), a GET
// of the local listener's /health that wants 200.
//
// Routes are labelled health, ready, process, process_v2, jobs, covers, meta,
// preflight, purge, not_found and not_allowed.
//
// Metrics: covers_http_requests_total{route,status},
// covers_http_request_duration_seconds{route},
// covers_dependency_up{dependency} (1 or 0, from the readiness checks, at
// most 5 s old when scraped).
package proxy
