package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"net/url"
	"sync"
)

// SigLen is the length of a signature: unpadded base64url of 32 bytes.
const SigLen = 43

const (
	maxPooledBuf    = 4 << 10
	maxPooledParams = 64
)

// sigEncoding rejects non-zero trailing bits, so each 32-byte MAC has exactly
// one accepted spelling.
var sigEncoding = base64.RawURLEncoding.Strict()

// Signer signs and verifies URLs. It is safe for concurrent use and must
// not be copied after New.
type Signer struct {
	keys     [][]byte
	disabled bool
	pool     sync.Pool // of *state
}

// state is the per-call working set borrowed from the pool: one HMAC per key
// plus scratch buffers, so Verify allocates nothing once warm.
type state struct {
	macs []hash.Hash
	buf  []byte
	scratch
	sum [sha256.Size]byte
	got [sha256.Size]byte
	enc [SigLen]byte
}

// New validates cfg and returns a Signer holding copies of its keys.
func New(cfg Config) (*Signer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new signer: %w", err)
	}
	s := &Signer{disabled: cfg.Disabled}
	for _, k := range cfg.Keys {
		s.keys = append(s.keys, append([]byte(nil), k...))
	}
	s.pool.New = func() any { return s.newState() }
	return s, nil
}

func (s *Signer) newState() *state {
	st := &state{macs: make([]hash.Hash, len(s.keys)), buf: make([]byte, 0, 256)}
	for i, k := range s.keys {
		st.macs[i] = hmac.New(sha256.New, k)
	}
	return st
}

func (s *Signer) get() *state {
	if st, ok := s.pool.Get().(*state); ok {
		return st
	}
	return s.newState()
}

func (s *Signer) put(st *state) {
	st.reset()
	if cap(st.buf) > maxPooledBuf {
		st.buf = make([]byte, 0, 256)
	}
	s.pool.Put(st)
}

// mac returns HMAC(keys[i], st.buf) in st.sum.
func (st *state) mac(i int) []byte {
	h := st.macs[i]
	h.Reset()
	h.Write(st.buf)
	return h.Sum(st.sum[:0])
}

// Disabled reports whether verification is turned off.
func (s *Signer) Disabled() bool { return s.disabled }

// Sign returns the signature of Canonical(path, params) with the first key,
// or "" when there are no keys. A "sig" entry in params is ignored.
func (s *Signer) Sign(path string, params url.Values) string {
	if len(s.keys) == 0 {
		return ""
	}
	st := s.get()
	defer s.put(st)
	st.buf = st.appendCanonical(st.buf[:0], path, params)
	sigEncoding.Encode(st.enc[:], st.mac(0))
	return string(st.enc[:])
}

// Verify checks sig against path and params (a "sig" entry in params is
// ignored). It returns nil when signing is disabled; ErrMissingSignature for
// an empty sig; ErrBadSignature for a sig that is not exactly SigLen
// base64url characters (rejected before any MAC is computed) or that no key
// produced. Keys are tried in order, each compared in constant time; the
// loop stops at the first match, which reveals only which key matched.
func (s *Signer) Verify(path string, params url.Values, sig string) error {
	switch {
	case s.disabled:
		return nil
	case sig == "":
		return errVerifyMissing
	case len(s.keys) == 0:
		return errVerifyNoKeys
	case len(sig) != SigLen || !isSigAlphabet(sig):
		return errVerifyBad
	}
	st := s.get()
	defer s.put(st)
	copy(st.enc[:], sig)
	if n, err := sigEncoding.Decode(st.got[:], st.enc[:]); err != nil || n != sha256.Size {
		return errVerifyBad
	}
	st.buf = st.appendCanonical(st.buf[:0], path, params)
	for i := range st.macs {
		if hmac.Equal(st.mac(i), st.got[:]) {
			return nil
		}
	}
	return errVerifyBad
}

// isSigAlphabet reports whether every byte of sig is in the unpadded
// base64url alphabet. The decoder alone would skip '\r' and '\n'.
func isSigAlphabet(sig string) bool {
	for i := 0; i < len(sig); i++ {
		c := sig[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
