package signing

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// FuzzVerify: for any path, query and candidate signature, Verify never
// panics, accepts exactly the signature Sign produces, and rejects every
// other candidate with ErrMissingSignature or ErrBadSignature. Besides the
// fuzzer's free-form candidate, each run also mutates the valid signature in
// one byte (position pos, xor flip), so well-formed near misses that reach
// the MAC comparison are exercised on every execution.
func FuzzVerify(f *testing.F) {
	for _, v := range vectors {
		f.Add(v.path, v.query, v.sig, uint(0), byte(1))
		f.Add(v.path, v.query, v.sig[:42]+"A", uint(42), byte(1))
		f.Add(v.path, v.query, v.sig+"=", uint(42), byte(3))
		f.Add(v.path, v.query, strings.ToUpper(v.sig), uint(7), byte(0x20))
		f.Add(v.path+"x", v.query, v.sig, uint(20), byte(0x80))
	}
	f.Add(vectors[0].path, "", vectors[0].sig[:42]+"N", uint(42), byte(2))
	f.Add("/", "", "", uint(0), byte(0))
	s, err := New(Config{Keys: [][]byte{vectorKey()}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path, query, sig string, pos uint, flip byte) {
		params, err := url.ParseQuery(query)
		if err != nil {
			return // not a query the signer is given
		}
		valid := s.Sign(path, params)
		if flip != 0 {
			mutated := []byte(valid)
			mutated[pos%uint(len(mutated))] ^= flip
			if err := s.Verify(path, params, string(mutated)); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Verify(%q, %q, valid sig with byte %d ^ %#x = %q) = %v, want ErrBadSignature",
					path, query, pos%uint(len(mutated)), flip, mutated, err)
			}
		}
		err = s.Verify(path, params, sig)
		switch {
		case sig == valid:
			if err != nil {
				t.Fatalf("Verify(%q, %q, Sign's own sig) = %v, want nil", path, query, err)
			}
		case sig == "":
			if !errors.Is(err, ErrMissingSignature) {
				t.Fatalf("Verify(%q, %q, \"\") = %v, want ErrMissingSignature", path, query, err)
			}
		default:
			if !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Verify(%q, %q, %q) = %v, want ErrBadSignature (valid sig is %q)", path, query, sig, err, valid)
			}
		}
	})
}

// FuzzSignRoundTrip: whatever path and parameters the fuzzer makes, a
// signature from Sign verifies, also when params still carry a sig entry,
// and the canonical string has the length the scheme implies.
func FuzzSignRoundTrip(f *testing.F) {
	f.Add("/covers/B123/320.webp", "v", "3f9a1c2b7d4e", "exp", "1893456000")
	f.Add("", "", "", "", "")
	f.Add("/a b/é", "v", "a&b=c", "v", "a")
	f.Add("/x?y", "sig", "zzz", "exp", "")
	rotated, err := New(Config{Keys: [][]byte{testKey(64), vectorKey()}})
	if err != nil {
		f.Fatal(err)
	}
	old, err := New(Config{Keys: [][]byte{vectorKey()}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path, n1, v1, n2, v2 string) {
		params := url.Values{}
		params.Add(n1, v1)
		params.Add(n2, v2)
		c := Canonical(path, params)
		if !strings.HasPrefix(c, path) || len(c) != canonicalLen(path, params) {
			t.Fatalf("Canonical(%q, %v) = %q: want prefix %q and length %d", path, params, c, path, canonicalLen(path, params))
		}
		for _, s := range []*Signer{rotated, old} {
			sig := s.Sign(path, params)
			if len(sig) != SigLen {
				t.Fatalf("Sign(%q, %v) = %q, want %d chars", path, params, sig, SigLen)
			}
			if err := rotated.Verify(path, params, sig); err != nil {
				t.Fatalf("Verify(%q, %v, Sign's sig) = %v, want nil", path, params, err)
			}
			withSig := url.Values{sigParam: {sig}}
			for k, vs := range params {
				withSig[k] = append(withSig[k], vs...)
			}
			if err := rotated.Verify(path, withSig, sig); err != nil {
				t.Fatalf("Verify(%q, %v incl. sig, Sign's sig) = %v, want nil", path, withSig, err)
			}
		}
	})
}

// FuzzSignedURL: for any input SignedURL either refuses with ErrBadURL or
// returns a URL that, parsed as a server parses a request, verifies.
func FuzzSignedURL(f *testing.F) {
	for _, v := range vectors {
		f.Add(v.path + "?" + v.query)
	}
	for _, seed := range []string{
		"/", "/?", "/a b?x=1", "/a%2Fb?v=1&v=0", "/é?x=%20&y=+", "//evil", "/a?sig=x",
		"/a?x;y", "/a#frag?x=1", "/a?%zz", "/%41?=", "/a?b&c=&=d",
	} {
		f.Add(seed)
	}
	s, err := New(Config{Keys: [][]byte{vectorKey()}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in string) {
		signed, err := s.SignedURL(in)
		if err != nil {
			if !errors.Is(err, ErrBadURL) {
				t.Fatalf("SignedURL(%q) = %v, want ErrBadURL or success", in, err)
			}
			return
		}
		verifySignedURL(t, s, signed)
	})
}
