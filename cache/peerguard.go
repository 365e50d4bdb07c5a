package cache

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/VictoriaMetrics/metrics"
	"github.com/bookcovers/image-worker/cover"
)

// PeerSecretHeader carries PEER_SECRET on every groupcache peer request.
const PeerSecretHeader = "X-Peer-Secret"

// MinPeerSecretLength is the shortest PEER_SECRET accepted.
const MinPeerSecretLength = 16

// ErrBadPeerKey reports a peer request for a key the public cover path could
// never produce.
var ErrBadPeerKey = errors.New("cache: peer key not accepted")

// KeyCheck decides whether a variant key is one the public cover path could
// produce (book id grammar, version, size limits, format). cmd passes the
// proxy's own check, so both entry points share one grammar.
type KeyCheck func(cover.VariantKey) error

// peerGuard stands in front of groupcache's HTTPPool on the internal
// listener: with PEER_SECRET set a request must carry it (401 without, 403
// when wrong, compared in constant time), and the key must parse as a
// canonical variant key that check accepts (400 otherwise), so no peer
// request can render a size, book or format a signed public URL could not.
// Neither the secret nor the key is ever logged.
type peerGuard struct {
	next   http.Handler
	secret [sha256.Size]byte // hash of PEER_SECRET, when set
	hasSec bool
	check  KeyCheck

	served, badKey, noSecret, wrongSecret *metrics.Counter
}

func newPeerGuard(next http.Handler, secret string, check KeyCheck, set *metrics.Set) *peerGuard {
	counter := func(result string) *metrics.Counter {
		return set.GetOrCreateCounter(`covers_cache_peer_requests_total{result="` + result + `"}`)
	}
	g := &peerGuard{next: next, check: check, hasSec: secret != "",
		served: counter("served"), badKey: counter("bad_key"), noSecret: counter("no_secret"), wrongSecret: counter("wrong_secret")}
	if g.hasSec {
		g.secret = sha256.Sum256([]byte(secret))
	}
	return g
}

func (g *peerGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.hasSec {
		got, ok := r.Header[PeerSecretHeader]
		if !ok || len(got) != 1 || got[0] == "" {
			g.noSecret.Inc()
			http.Error(w, "peer secret required", http.StatusUnauthorized)
			return
		}
		sum := sha256.Sum256([]byte(got[0]))
		if subtle.ConstantTimeCompare(sum[:], g.secret[:]) != 1 {
			g.wrongSecret.Inc()
			http.Error(w, "peer secret not accepted", http.StatusForbidden)
			return
		}
	}
	if _, err := peerRequestKey(r.URL.Path, g.check); err != nil {
		g.badKey.Inc()
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	g.served.Inc()
	g.next.ServeHTTP(w, r)
}

// peerRequestKey parses the path of a peer request, PeerBasePath +
// "{group}/{key}" (the key arrives query-escaped and the server has
// unescaped it), and checks the key.
func peerRequestKey(path string, check KeyCheck) (cover.VariantKey, error) {
	rest, ok := strings.CutPrefix(path, PeerBasePath)
	group, key, found := strings.Cut(rest, "/")
	if !ok || !found || group == "" {
		return cover.VariantKey{}, fmt.Errorf("peer request %q: %w", path, ErrBadPeerKey)
	}
	k, err := cover.ParseVariantKey(key)
	if err != nil {
		// The placeholders group's keys (placeholders.go): the same size
		// and format limits apply, under a pseudo-book.
		pk, perr := ParsePlaceholderKey(key)
		if perr != nil || pk.Entry >= MaxPlaceholderEntries {
			return cover.VariantKey{}, fmt.Errorf("peer request: %w: %w", ErrBadPeerKey, err)
		}
		k = cover.VariantKey{BookID: "placeholder", Version: "p" + strconv.Itoa(pk.Entry), Width: pk.Width, Height: pk.Height, Format: pk.Format}
	}
	if check != nil {
		if err := check(k); err != nil {
			return cover.VariantKey{}, fmt.Errorf("peer request: %w: %w", ErrBadPeerKey, err)
		}
	}
	return k, nil
}

// secretTransport adds PEER_SECRET to every request this replica sends to
// its peers.
type secretTransport struct {
	next   http.RoundTripper
	secret string
}

func (t *secretTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context()) // a RoundTripper must not modify its request
	r.Header.Set(PeerSecretHeader, t.secret)
	return t.next.RoundTrip(r)
}
