package signing

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// SignedURL signs a path with an optional query ("/covers/B123/320.webp?v=x")
// and returns it with the parameters re-emitted sorted by name then value,
// query-escaped, and sig appended last. The path is kept as escaped in the
// input (or escaped canonically when the input's escaping is not valid); what
// is signed is the decoded path, exactly what a server sees as URL.Path.
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
	params, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", fmt.Errorf("signed url: %w: query: %w", ErrBadURL, err)
	}
	if _, ok := params[sigParam]; ok {
		return "", fmt.Errorf("signed url: %w: already carries sig", ErrBadURL)
	}
	sig := s.Sign(u.Path, params)

	var b strings.Builder
	b.Grow(len(pathAndQuery) + len("&sig=") + SigLen)
	b.WriteString(u.EscapedPath())
	sep := byte('?')
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
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
	b.WriteByte(sep)
	b.WriteString(sigParam + "=")
	b.WriteString(sig)
	return b.String(), nil
}
