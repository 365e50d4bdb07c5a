package proxy

import (
	"fmt"
	"net/url"
	"path"
	"strings"
)

// CheckCoverURL reports whether GET target would be accepted as a cover
// request once signed: target is a path with an optional query and no
// signature ("/covers/B1/320.webp?v=3f9a1c2b7d4e"). It runs the parser and
// the canonical-form check of GET /covers, so a signer (the sign command)
// never emits a URL the server refuses. ErrorCode names the error's code.
func (c Config) CheckCoverURL(target string) error {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Fragment != "" || strings.Contains(target, "#") {
		return fmt.Errorf("check cover url %q: not a path: %w", target, errBadPath)
	}
	rest, ok := strings.CutPrefix(u.Path, "/covers/")
	bookID, file, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || bookID == "" || file == "" || strings.Contains(file, "/") {
		if path.Clean(u.Path) != u.Path && isCoverPath(path.Clean(u.Path)) {
			return fmt.Errorf("check cover url %q: %w", target, errNonCanonical)
		}
		return fmt.Errorf("check cover url %q: not /covers/{book_id}/{size}.{format}: %w", target, errBadPath)
	}
	req, err := c.parseCover(bookID, file, u.RawQuery)
	if err != nil {
		return fmt.Errorf("check cover url: %w", err)
	}
	if req.Sig != "" {
		return fmt.Errorf("check cover url %q: already signed: %w", target, errBadQuery)
	}
	return checkCanonical(u, &req)
}

// ErrorCode returns the status and the stable error code the service
// answers with for err (the one status table, classify).
func ErrorCode(err error) (status int, code string) {
	a := classify(err)
	return a.Status, a.Code
}
