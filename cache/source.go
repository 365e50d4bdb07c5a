package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"
)

// PublicSourceURL is the form of a source URL that may be published
// (meta.json, /v2/process, result events): the URL without its userinfo,
// query and fragment, which may carry credentials (a signed S3 URL, an API
// token). For an http(s) URL that is scheme://host[:port]/path. "" when raw
// does not parse, or when what is left would not read back as such a URL
// (net/url prints odd forms such as "//@// " as "//%20", or "//@//@" as
// "//@", which parses with an empty userinfo). The manifest keeps the full URL: it is what a re-fetch
// needs and what "same URL, no new download" compares.
func PublicSourceURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User = nil
	u.RawQuery, u.ForceQuery = "", false
	u.Fragment, u.RawFragment = "", ""
	out := u.String()
	back, err := url.Parse(out)
	if err != nil || back.User != nil || back.RawQuery != "" || back.ForceQuery || back.Fragment != "" || strings.ContainsAny(out, "?#") {
		return ""
	}
	return out
}

// SourceURLSHA256 is the lowercase hex SHA-256 of the source URL exactly as it
// was submitted (the manifest's SourceURL): a consumer hashes the URL it sent
// to tell whether a result is about that very URL, query included, without
// the query being published.
func SourceURLSHA256(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}
