package signing

import (
	"net/url"
	"slices"
)

// sigParam is the query parameter carrying the signature. It never takes
// part in the canonical string.
const sigParam = "sig"

// Canonical returns the string that is signed for path and params: the path,
// then, when there is at least one parameter value, "?" and every
// name=value pair joined by "&", sorted by name then value. Names and values
// are used as given (decoded, unescaped). A "sig" parameter is ignored; a
// name with no values contributes nothing.
func Canonical(path string, params url.Values) string {
	var sc scratch
	return string(sc.appendCanonical(make([]byte, 0, canonicalLen(path, params)), path, params))
}

// scratch holds reusable slices for building a canonical string without
// allocating once warmed up.
type scratch struct {
	names []string
	vals  []string
}

// appendCanonical appends the canonical string for path and params to dst.
func (sc *scratch) appendCanonical(dst []byte, path string, params url.Values) []byte {
	dst = append(dst, path...)
	sc.names = sc.names[:0]
	for name, vs := range params {
		if name == sigParam || len(vs) == 0 {
			continue
		}
		sc.names = append(sc.names, name)
	}
	if len(sc.names) == 0 {
		return dst
	}
	slices.Sort(sc.names)
	sep := byte('?')
	for _, name := range sc.names {
		vs := params[name]
		if len(vs) > 1 {
			sc.vals = append(sc.vals[:0], vs...)
			slices.Sort(sc.vals)
			vs = sc.vals
		}
		for _, v := range vs {
			dst = append(dst, sep)
			sep = '&'
			dst = append(dst, name...)
			dst = append(dst, '=')
			dst = append(dst, v...)
		}
	}
	return dst
}

// reset drops references to request strings so a pooled scratch does not
// keep them alive, and drops oversized slices.
func (sc *scratch) reset() {
	clear(sc.names)
	clear(sc.vals)
	if cap(sc.names) > maxPooledParams {
		sc.names = nil
	}
	if cap(sc.vals) > maxPooledParams {
		sc.vals = nil
	}
}

// canonicalLen is the exact length of the canonical string, for sizing.
func canonicalLen(path string, params url.Values) int {
	n := len(path)
	for name, vs := range params {
		if name == sigParam {
			continue
		}
		for _, v := range vs {
			n += 1 + len(name) + 1 + len(v)
		}
	}
	return n
}
