package proxy

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/bookcovers/image-worker/cover"
)

// Bearer-token errors of the write routes. Neither carries the token: the
// wrapped error goes to the log.
var (
	errTokenMissing = cover.NewError(cover.CodeUnauthorized, "proxy: bearer token required")  // 401
	errTokenWrong   = cover.NewError(cover.CodeForbidden, "proxy: bearer token not accepted") // 403
)

// MinTokenLength is the shortest PROCESS_TOKENS entry accepted.
const MinTokenLength = 16

// ParseTokens splits PROCESS_TOKENS (comma-separated bearer tokens; blanks
// dropped). Config.Validate checks them.
func ParseTokens(s string) []string {
	var out []string
	for _, tok := range strings.Split(s, ",") {
		if tok = strings.TrimSpace(tok); tok != "" {
			out = append(out, tok)
		}
	}
	return out
}

// checkTokens requires every token to be at least MinTokenLength characters
// of the RFC 6750 token alphabet ([A-Za-z0-9-._~+/], then optional '=').
// Problems name the token's position, never the token.
func checkTokens(tokens []string) []error {
	var errs []error
	for i, tok := range tokens {
		switch {
		case len(tok) < MinTokenLength:
			errs = append(errs, fmt.Errorf("PROCESS_TOKENS: token %d is shorter than %d characters", i+1, MinTokenLength))
		case !validToken(tok):
			errs = append(errs, fmt.Errorf("PROCESS_TOKENS: token %d has characters outside [A-Za-z0-9-._~+/=]", i+1))
		}
	}
	return errs
}

// validToken reports whether s is an RFC 6750 b64token.
func validToken(s string) bool {
	s = strings.TrimRight(s, "=")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			return false
		}
	}
	return true
}

// bearerToken returns the token of "Authorization: Bearer <token>".
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// tokenAccepted compares the presented token with every accepted one in
// constant time: both sides are hashed first, so neither the length nor the
// position of a match shows in the timing.
func tokenAccepted(got string, accepted []string) bool {
	g := sha256.Sum256([]byte(got))
	match := 0
	for _, a := range accepted {
		w := sha256.Sum256([]byte(a))
		match |= subtle.ConstantTimeCompare(g[:], w[:])
	}
	return match == 1
}

// checkBearer answers errTokenMissing (401) without a bearer token and
// errTokenWrong (403) with one that is not accepted; an empty accepted list
// accepts nothing.
func checkBearer(w http.ResponseWriter, r *http.Request, realm string, accepted []string) error {
	token, ok := bearerToken(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
		return fmt.Errorf("%s: %w", realm, errTokenMissing)
	}
	if !tokenAccepted(token, accepted) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`", error="invalid_token"`)
		return fmt.Errorf("%s: %w", realm, errTokenWrong)
	}
	return nil
}

// writer guards a write route (POST /process, /v2/process) with
// PROCESS_TOKENS on both listeners. Without tokens configured the route is
// open, exactly as the frozen contract has it.
func (h *handlers) writer(fn handlerFunc) handlerFunc {
	if len(h.cfg.ProcessTokens) == 0 {
		return fn
	}
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
		if err := checkBearer(w, r, "image-worker process", h.cfg.ProcessTokens); err != nil {
			return err
		}
		return fn(w, r, ps)
	}
}

// admin guards DELETE /covers/{book_id} with ADMIN_TOKEN on both listeners;
// without ADMIN_TOKEN nothing is accepted.
func (h *handlers) admin(fn handlerFunc) handlerFunc {
	var accepted []string
	if h.cfg.AdminToken != "" {
		accepted = []string{h.cfg.AdminToken}
	}
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
		if err := checkBearer(w, r, "image-worker admin", accepted); err != nil {
			return err
		}
		return fn(w, r, ps)
	}
}
