package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/julienschmidt/httprouter"
)

// CORS on the cover and meta.json routes (Config.AllowOrigins,
// ALLOW_ORIGINS). The headers are set before the handler runs, so every
// answer of those routes carries them: 200, 304, the placeholder, and the
// JSON error answers too (a browser's fetch can read a 4xx body, and its
// error code, only with Access-Control-Allow-Origin). No credentials: a
// cover needs no cookie, and Access-Control-Allow-Credentials is never sent.
//
//   - empty (the default): no CORS header at all; a cross-origin page can
//     still show a cover in <img> (that needs no CORS) but cannot read
//     meta.json or the pixels.
//   - "*": Access-Control-Allow-Origin: * on every answer, whatever the
//     request's Origin; no Vary (the answer does not depend on it).
//   - a list of origins: the request's Origin, echoed when it is in the
//     list, and Vary: Origin on every answer, listed or not, with or
//     without an Origin, so a cache never hands one origin's answer to
//     another.
//
// A preflight (OPTIONS on the same paths) is answered 204 without looking
// at the signature or the book: with the CORS headers, Allow-Methods GET,
// HEAD, the request headers a cover fetch may send and a Max-Age, when the
// origin is allowed and the requested method is GET or HEAD; with no CORS
// header otherwise (the browser then refuses the request itself).

// AnyOrigin is the ALLOW_ORIGINS value that lets every origin read.
const AnyOrigin = "*"

var (
	corsAnyValue     = []string{AnyOrigin}
	corsExposeValue  = []string{"ETag, Retry-After, X-Cover-Placeholder, X-Request-Id"}
	corsMethodsValue = []string{"GET, HEAD"}
	// corsHeadersValue: the request headers a cover or meta.json fetch may
	// send that are not CORS-safelisted (Accept is).
	corsHeadersValue = []string{"If-None-Match, If-Modified-Since, X-Request-Id"}
	// corsMaxAgeValue: how long a browser may keep a preflight's answer
	// (Chromium caps it at 2 hours, Firefox at 24).
	corsMaxAgeValue = []string{"86400"}
	allowValue      = []string{"GET, HEAD, OPTIONS"}
	varyPreflight   = []string{"Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"}
)

// ParseOrigins parses ALLOW_ORIGINS: a comma-separated list of origins
// ("https://shop.example.com,http://127.0.0.1:8001") or "*". Each problem
// names the variable; Validate checks the same.
func ParseOrigins(s string) ([]string, error) {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out, checkOrigins(out)
}

// checkOrigins accepts "*" alone, or origins in the one spelling a browser
// sends in Origin: scheme://host[:port], lowercase, http or https, no
// default port, no path. Any other spelling could never match, so it is
// refused rather than silently ignored.
func checkOrigins(origins []string) error {
	var errs []error
	for _, o := range origins {
		if o == AnyOrigin {
			if len(origins) > 1 {
				errs = append(errs, errors.New(`ALLOW_ORIGINS: "*" allows every origin; list no other origin with it`))
			}
			continue
		}
		if err := checkOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("ALLOW_ORIGINS: %q %w", o, err))
		}
	}
	return errors.Join(errs...)
}

func checkOrigin(o string) error {
	if o == "null" {
		return errors.New(`is the opaque origin of file:// pages, sandboxes and data: URLs: allowing it allows any page that chooses to be opaque; serve the page from an http(s) origin and list that`)
	}
	u, err := url.Parse(o)
	switch {
	case strings.Contains(o, "*"):
		return errors.New(`has a wildcard: list each origin, or "*" alone for every origin`)
	case err != nil || u.Opaque != "" || u.Host == "":
		return errors.New("is not an origin: want scheme://host[:port]")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("is not an http or https origin")
	case u.User != nil || u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(o, "#"):
		return errors.New("has more than scheme://host[:port] (no path, not even /, no query, no user)")
	case o != strings.ToLower(o):
		return errors.New("must be lowercase, as browsers send it")
	case u.Port() == "" && strings.HasSuffix(u.Host, ":"),
		u.Scheme == "http" && u.Port() == "80", u.Scheme == "https" && u.Port() == "443":
		return errors.New("names its scheme's default port (or an empty one): browsers leave it out, so write it without")
	}
	return nil
}

// corsPolicy is Config.AllowOrigins made ready for requests.
type corsPolicy struct {
	any     bool
	allowed map[string]struct{}
}

func newCORSPolicy(origins []string) corsPolicy {
	p := corsPolicy{}
	for _, o := range origins {
		if o == AnyOrigin {
			p.any = true
			continue
		}
		if p.allowed == nil {
			p.allowed = map[string]struct{}{}
		}
		p.allowed[o] = struct{}{}
	}
	return p
}

func (p corsPolicy) enabled() bool { return p.any || len(p.allowed) > 0 }

// apply sets the CORS headers of an answer to a request from origin
// ("" without an Origin header) and reports whether the origin may read it.
func (p corsPolicy) apply(hd http.Header, origin string) bool {
	switch {
	case p.any:
		hd["Access-Control-Allow-Origin"] = corsAnyValue
	case len(p.allowed) > 0:
		addVary(hd, "Origin")
		if _, ok := p.allowed[origin]; !ok {
			return false
		}
		hd["Access-Control-Allow-Origin"] = []string{origin}
	default:
		return false
	}
	hd["Access-Control-Expose-Headers"] = corsExposeValue
	return true
}

// withCORS sets the CORS headers before fn answers; without
// Config.AllowOrigins it is fn itself.
func (h *handlers) withCORS(fn httprouter.Handle) httprouter.Handle {
	if !h.cors.enabled() {
		return fn
	}
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		h.cors.apply(w.Header(), r.Header.Get("Origin"))
		fn(w, r, ps)
	}
}

// preflight answers OPTIONS on the cover and meta.json paths: 204, and the
// CORS headers only for an allowed origin asking for GET or HEAD.
func (h *handlers) preflight(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	hd := w.Header()
	hd["Allow"] = allowValue
	if h.cors.enabled() {
		if !h.cors.any {
			for _, v := range varyPreflight {
				addVary(hd, v)
			}
		}
		method := r.Header.Get("Access-Control-Request-Method")
		if (method == http.MethodGet || method == http.MethodHead) && h.cors.apply(hd, r.Header.Get("Origin")) {
			delete(hd, "Access-Control-Expose-Headers") // meaningless on a preflight
			hd["Access-Control-Allow-Methods"] = corsMethodsValue
			hd["Access-Control-Allow-Headers"] = corsHeadersValue
			hd["Access-Control-Max-Age"] = corsMaxAgeValue
		}
	}
	hd["Cache-Control"] = []string{"no-store"}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// addVary adds token to the Vary header unless it is already named there
// (or Vary is "*"), keeping what other code put in it (Vary: Accept). Code
// that sets Vary on a cover or meta.json answer must use it too: Set would
// drop the Origin that withCORS put there before the handler ran.
func addVary(hd http.Header, token string) {
	for _, v := range hd.Values("Vary") {
		for part := range strings.SplitSeq(v, ",") {
			part = strings.TrimSpace(part)
			if part == "*" || strings.EqualFold(part, token) {
				return
			}
		}
	}
	hd["Vary"] = append(hd["Vary"][:len(hd["Vary"]):len(hd["Vary"])], token)
}
