// Package signing signs and verifies cover URLs with HMAC-SHA256.
//
// The scheme, which frontends implement byte for byte:
//
//	canonical = path                                  when there are no parameters
//	canonical = path + "?" + name=value&name=value... otherwise, every parameter
//	            except sig, sorted by name then value, names and values as they
//	            appear decoded (no escaping)
//	sig       = base64url without padding of HMAC-SHA256(key, canonical)
//
// The path is the decoded request path (net/url's URL.Path). The only
// parameters the service accepts are v and exp, plain tokens, so the unescaped
// join cannot be ambiguous for them; the proxy rejects any other parameter and
// duplicates before calling Verify.
//
// A signed URL has one byte form, CanonicalURL (what SignedURL emits): the
// path escaped as net/url escapes it by default, the parameters sorted by name
// then value and query-escaped, sig last. The signature covers decoded parts,
// so "%6D" for "m", a trailing "&" or reordered parameters would verify too;
// the proxy refuses every such spelling (400 non_canonical_url) so that one
// signature is one cache key at the CDN, in memory and in the store.
//
// Keys rotate: the first key of Config.Keys signs, every key verifies. Each
// comparison runs in constant time (hmac.Equal). Signing can only be turned off
// explicitly (Config.Disabled, from IMAGE_SIGNING_DISABLED=true); then Verify
// accepts anything and the caller logs a loud warning at startup.
//
// CheckExpiry parses the exp parameter (Unix seconds) strictly; it is a
// separate step so the proxy can map a bad signature (403) and an expired link
// (410) differently and check the signature first. WithExpiry sets exp on
// a path before it is signed (image-worker sign --ttl), and NewKey makes a
// new random key (image-worker keygen).
//
// What it does not do: call os.Getenv (ConfigFromEnv reads
// IMAGE_SIGNING_KEYS through the Reader cmd hands it), know about HTTP status codes, routes or which
// parameters are allowed, or log anything. Never log keys or signatures.
//
// Verify is on the hot path of every request: it borrows per-key HMAC states
// and scratch buffers from a sync.Pool and decodes the signature into a fixed
// array, so a check allocates nothing.
//
// Metrics: none. This package uses the standard library only; a refused
// signature is a 403 (410 when expired) in proxy's
// covers_http_requests_total{route,status}, and its code in the access log.
package signing
