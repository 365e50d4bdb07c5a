package proxy

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/bookcovers/image-worker/cover"
)

// Request parsing errors; each names its own code (400).
var (
	errBadPath   = cover.NewError(cover.CodeBadPath, "proxy: malformed cover path")
	errBadSize   = cover.NewError(cover.CodeBadSize, "proxy: invalid size")
	errBadFormat = cover.NewError(cover.CodeBadFormat, "proxy: unsupported format")
	errBadQuery  = cover.NewError(cover.CodeBadQuery, "proxy: invalid query")
	// errNonCanonical: the URL is not byte for byte the form the signer
	// emits (signing.CanonicalURL), though it may parse and verify.
	errNonCanonical = cover.NewError(cover.CodeNonCanonicalURL, "proxy: non-canonical url")
)

// coverRequest is a parsed GET /covers/{book_id}/{size}.{format} request.
type coverRequest struct {
	BookID string
	Width  int
	Height int  // 0: keep aspect
	Fit    bool // a box to fit (padded), not to fill
	Format cover.Format
	V      string
	Exp    string
	Sig    string
	Params url.Values // the signed parameters (all but sig)
}

// maxVersionLength bounds the v parameter.
const maxVersionLength = 64

// parseCover parses the path parameters and the raw query of a cover request.
func (c Config) parseCover(bookID, file, rawQuery string) (coverRequest, error) {
	if err := cover.ValidBookID(bookID); err != nil {
		return coverRequest{}, fmt.Errorf("parse cover: %w", err)
	}
	sizePart, formatPart, ok := strings.Cut(file, ".")
	if !ok {
		return coverRequest{}, fmt.Errorf("parse cover %q: %w", file, errBadPath)
	}
	format, err := cover.ParseFormat(formatPart)
	if err != nil {
		return coverRequest{}, fmt.Errorf("parse cover: %w", errBadFormat)
	}
	sz, err := c.parseSize(sizePart)
	if err != nil {
		return coverRequest{}, err
	}
	req := coverRequest{BookID: bookID, Width: sz.Width, Height: sz.Height, Fit: sz.Fit, Format: format}
	if err := parseCoverQuery(rawQuery, &req); err != nil {
		return coverRequest{}, err
	}
	return req, nil
}

// parseMeta parses the path parameter and the raw query of a meta.json
// request: the book id, and the query of a cover.
func parseMeta(bookID, rawQuery string) (coverRequest, error) {
	if err := cover.ValidBookID(bookID); err != nil {
		return coverRequest{}, fmt.Errorf("parse meta: %w", err)
	}
	req := coverRequest{BookID: bookID}
	if err := parseCoverQuery(rawQuery, &req); err != nil {
		return coverRequest{}, err
	}
	return req, nil
}

// parseSize accepts a preset name, or "W", "WxH" (fill) or "WxHf" (fit)
// spelled canonically (cover.ParseSize: no sign, no leading zero, a
// lowercase x and f) so that one variant has one cache key, each number
// in MinDimension..MaxDimension.
func (c Config) parseSize(s string) (cover.Size, error) {
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		if p, ok := c.Sizes[s]; ok {
			return p, nil
		}
		return cover.Size{}, fmt.Errorf("parse size %q: unknown preset: %w", s, errBadSize)
	}
	sz, err := cover.ParseSize(s)
	if err != nil {
		return cover.Size{}, fmt.Errorf("parse size: %w: %w", errBadSize, err)
	}
	if !c.inRange(sz.Width) || sz.Height != 0 && !c.inRange(sz.Height) {
		return cover.Size{}, fmt.Errorf("parse size %s: not in %d..%d: %w", s, c.MinDimension, c.MaxDimension, errBadSize)
	}
	return sz, nil
}

// parseCoverQuery accepts only v, exp and sig, each at most once.
func parseCoverQuery(raw string, req *coverRequest) error {
	if raw == "" {
		return nil
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return fmt.Errorf("parse query: %w", errBadQuery)
	}
	for name, vals := range q {
		if len(vals) != 1 {
			return fmt.Errorf("parse query: %q repeated: %w", name, errBadQuery)
		}
		val := vals[0]
		switch name {
		case "v":
			if val == "" || len(val) > maxVersionLength || !isToken(val) {
				return fmt.Errorf("parse query: bad v: %w", errBadQuery)
			}
			req.V = val
		case "exp":
			req.Exp = val
		case "sig":
			req.Sig = val
		default:
			return fmt.Errorf("parse query: parameter %q not allowed: %w", name, errBadQuery)
		}
	}
	delete(q, "sig")
	req.Params = q
	return nil
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// checkCanonical refuses a parsed cover or meta.json request whose raw path
// and query are not exactly what signing.CanonicalURL emits for its parts.
// The signature covers the decoded path and the parsed query, while a CDN
// keys on the raw request URI: without this check "%6D" for "m", a trailing
// "&" or "&&", reordered or empty parameters would each verify and each be
// another cache entry (and render) for one signature.
//
// The parsed parts allow it to compare bytes without building anything: the
// book id, size and format are made of characters no escaping touches, so the
// raw path must be the decoded one (net/url sets RawPath only when the two
// differ); the query may hold only exp, v and sig (parseCoverQuery), so it
// must be "exp=E&v=V&sig=S" with absent ones left out, each value non-empty
// and made of characters url.QueryEscape leaves alone. Nothing else, not even
// a lone "?", is canonical.
func checkCanonical(u *url.URL, req *coverRequest) error {
	switch {
	case u.RawPath != "":
		return fmt.Errorf("check canonical: escaped path: %w", errNonCanonical)
	case u.ForceQuery:
		return fmt.Errorf("check canonical: empty query: %w", errNonCanonical)
	case !canonicalQuery(u.RawQuery, req.Exp, req.V, req.Sig):
		return fmt.Errorf("check canonical: query: %w", errNonCanonical)
	}
	return nil
}

// canonicalQuery reports whether raw is exactly "exp=E&v=V&sig=S" for the
// given values, the empty ones left out, each value needing no escaping.
func canonicalQuery(raw, exp, v, sig string) bool {
	rest, sep := raw, ""
	for _, p := range [...]struct{ name, val string }{{"exp=", exp}, {"v=", v}, {"sig=", sig}} {
		if p.val == "" {
			continue
		}
		if !isQueryPlain(p.val) {
			return false
		}
		for _, part := range [...]string{sep, p.name, p.val} {
			var ok bool
			if rest, ok = strings.CutPrefix(rest, part); !ok {
				return false
			}
		}
		sep = "&"
	}
	return rest == ""
}

// isQueryPlain reports whether url.QueryEscape leaves s unchanged.
func isQueryPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~') {
			return false
		}
	}
	return true
}

// notFound answers a request no route matched: a cover or meta.json path
// spelled with a double or trailing slash or a dot segment is 400
// non_canonical_url (the router never redirects it), anything else 404.
func notFound(_ http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if p := path.Clean(r.URL.Path); p != r.URL.Path && isCoverPath(p) {
		return fmt.Errorf("route %q: %w", p, errNonCanonical)
	}
	return errNotFound
}

// isCoverPath reports whether p has the shape of /covers/{book_id}/{file}.
func isCoverPath(p string) bool {
	rest, ok := strings.CutPrefix(p, "/covers/")
	return ok && strings.Count(rest, "/") == 1 && !strings.HasPrefix(rest, "/") && !strings.HasSuffix(rest, "/")
}
