package signing

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// SignedURL signs a path with an optional query ("/covers/B123/320.webp?v=x")
// and returns it in its one canonical byte form, CanonicalURL: the decoded
// path re-escaped as net/url escapes it by default, the parameters sorted by
// name then value and query-escaped, sig appended last. What is signed is the
// decoded path, exactly what a server sees as URL.Path, so "/c/%6D.webp" and
// "/c/m.webp" sign alike and both come out as "/c/m.webp?sig=...".
// It rejects input that is not an absolute path (including "//host" forms),
// has an unparsable query or already carries sig.
func (s *Signer) SignedURL(pathAndQuery string) (string, error) {
	if len(s.keys) == 0 {
		return "", fmt.Errorf("signed url: %w", ErrNoKeys)
	}
	if !strings.HasPrefix(pathAndQuery, "/") || strings.HasPrefix(pathAndQuery, "//") {
		return "", fmt.Errorf("signed url: %w: want a path starting with a single /", ErrBadURL)
	}
	u, err := url.ParseRequestURI(pathAndQuery)
	if err != nil {
		return "", fmt.Errorf("signed url: %w: %w", ErrBadURL, err)
	}
	if u.Scheme != "" || u.Host != "" || u.Opaque != "" {
		return "", fmt.Errorf("signed url: %w: want a path, not an absolute URL", ErrBadURL)
	}
	if strings.HasPrefix(u.Path, "//") {
		// "/%2F...": re-escaped canonically it would read as "//host".
		return "", fmt.Errorf("signed url: %w: want a path starting with a single /", ErrBadURL)
	}
	params, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", fmt.Errorf("signed url: %w: query: %w", ErrBadURL, err)
	}
	if _, ok := params[sigParam]; ok {
		return "", fmt.Errorf("signed url: %w: already carries sig", ErrBadURL)
	}
	return CanonicalURL(u.Path, params, s.Sign(u.Path, params)), nil
}

// CanonicalURL is the one byte form of a signed URL, the form SignedURL
// emits and the proxy requires (anything else is refused, so that one
// signature names one cache key at every layer): path escaped as net/url
// escapes it by default (nothing is escaped that needs no escaping), then
// every parameter but sig as name=value, sorted by name then value, each
// query-escaped, joined by "&", then sig=... last when sig is not empty. "?"
// appears only when at least one pair follows.
func CanonicalURL(path string, params url.Values, sig string) string {
	var b strings.Builder
	b.Grow(canonicalLen(path, params) + len("?sig=") + len(sig))
	b.WriteString((&url.URL{Path: path}).EscapedPath())
	sep := byte('?')
	names := make([]string, 0, len(params))
	for name := range params {
		if name != sigParam {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		vs := slices.Clone(params[name])
		slices.Sort(vs)
		for _, v := range vs {
			b.WriteByte(sep)
			sep = '&'
			b.WriteString(url.QueryEscape(name))
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(v))
		}
	}
	if sig != "" {
		b.WriteByte(sep)
		b.WriteString(sigParam + "=")
		b.WriteString(url.QueryEscape(sig))
	}
	return b.String()
}
