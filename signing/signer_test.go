package signing

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestVectors(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t, Config{Keys: [][]byte{vectorKey()}})
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			params := mustQuery(t, v.query)
			if got := s.Sign(v.path, params); got != v.sig {
				t.Errorf("Sign(%q, %q) = %q, want %q", v.path, v.query, got, v.sig)
			}
			if err := s.Verify(v.path, params, v.sig); err != nil {
				t.Errorf("Verify(%q, %q, vector sig) = %v, want nil", v.path, v.query, err)
			}
			in := v.path
			if v.query != "" {
				in += "?" + v.query
			}
			want := in + "?sig=" + v.sig
			if v.query != "" {
				want = in + "&sig=" + v.sig
			}
			got, err := s.SignedURL(in)
			if err != nil || got != want {
				t.Errorf("SignedURL(%q) = %q, %v; want %q, nil", in, got, err, want)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t, Config{Keys: [][]byte{vectorKey()}})
	other := newTestSigner(t, Config{Keys: [][]byte{testKey(100)}})
	const (
		path  = "/covers/B123/320x480.webp"
		query = "exp=1893456000&v=3f9a1c2b7d4e"
		good  = "BOtkfzNf-KHKp-fbS75IiQOW4EahyFKi8hJjWbFEBKk"
	)
	flipped := []byte(good)
	flipped[10] ^= 'A' ^ 'B' // one character changed ('H' -> 'K')
	tests := []struct {
		name  string
		path  string
		query string
		sig   string
		want  error
	}{
		{"tampered path", "/covers/B124/320x480.webp", query, good, ErrBadSignature},
		{"tampered param", path, "exp=1893456001&v=3f9a1c2b7d4e", good, ErrBadSignature},
		{"dropped param", path, "v=3f9a1c2b7d4e", good, ErrBadSignature},
		{"added param", path, query + "&w=1", good, ErrBadSignature},
		{"flipped sig char", path, query, string(flipped), ErrBadSignature},
		{"missing sig", path, query, "", ErrMissingSignature},
		{"truncated sig", path, query, good[:42], ErrBadSignature},
		{"sig with padding", path, query, good + "=", ErrBadSignature},
		{"padding replacing last char", path, query, good[:42] + "=", ErrBadSignature},
		{"standard base64 alphabet", path, query, strings.ReplaceAll(strings.ReplaceAll(good, "-", "+"), "_", "/"), ErrBadSignature},
		{"newline inside", path, query, good[:20] + "\n" + good[21:], ErrBadSignature},
		{"sig from another key", path, query, other.Sign(path, mustQuery(t, query)), ErrBadSignature},
		{"long garbage", path, query, strings.Repeat("A", 4096), ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := s.Verify(tt.path, mustQuery(t, tt.query), tt.sig)
			if !errors.Is(err, tt.want) {
				t.Errorf("Verify(%q, %q, %q) = %v, want %v", tt.path, tt.query, tt.sig, err, tt.want)
			}
		})
	}
}

// TestVerifyRejectsTrailingBits: 43 base64 characters carry 258 bits, so a
// lenient decoder maps several spellings of the last character to the same
// MAC. Only the canonical spelling may verify.
func TestVerifyRejectsTrailingBits(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t, Config{Keys: [][]byte{vectorKey()}})
	v := vectors[0]
	if !strings.HasSuffix(v.sig, "M") {
		t.Fatalf("vector sig %q: test assumes it ends in M", v.sig)
	}
	alias := v.sig[:42] + "N" // M=001100, N=001101: differs only in the 2 unused bits
	if err := s.Verify(v.path, nil, alias); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify(%q, nil, %q) = %v, want ErrBadSignature", v.path, alias, err)
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey := testKey(0), testKey(64)
	oldSigner := newTestSigner(t, Config{Keys: [][]byte{oldKey}})
	rotated := newTestSigner(t, Config{Keys: [][]byte{newKey, oldKey}})
	newOnly := newTestSigner(t, Config{Keys: [][]byte{newKey}})
	path, params := "/covers/B123/medium.avif", url.Values{"v": {"3f9a1c2b7d4e"}}

	oldSig := oldSigner.Sign(path, params)
	if err := rotated.Verify(path, params, oldSig); err != nil {
		t.Errorf("rotated Verify(sig from old key) = %v, want nil", err)
	}
	newSig := rotated.Sign(path, params)
	if newSig == oldSig {
		t.Fatalf("rotated Sign = old key's sig %q, want a sig made with the new key", newSig)
	}
	if want := newOnly.Sign(path, params); newSig != want {
		t.Errorf("rotated Sign = %q, want the new key's sig %q", newSig, want)
	}
	if err := rotated.Verify(path, params, newSig); err != nil {
		t.Errorf("rotated Verify(sig from new key) = %v, want nil", err)
	}
	if err := newOnly.Verify(path, params, oldSig); !errors.Is(err, ErrBadSignature) {
		t.Errorf("after dropping the old key, Verify(old sig) = %v, want ErrBadSignature", err)
	}
}

func TestDisabledAcceptsAnything(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no keys", Config{Disabled: true}},
		{"with keys", Config{Keys: [][]byte{vectorKey()}, Disabled: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestSigner(t, tt.cfg)
			if !s.Disabled() {
				t.Fatalf("Disabled() = false, want true")
			}
			for _, sig := range []string{"", "x", vectors[0].sig, strings.Repeat("A", SigLen)} {
				if err := s.Verify("/any/path", url.Values{"v": {"1"}}, sig); err != nil {
					t.Errorf("disabled Verify(sig %q) = %v, want nil", sig, err)
				}
			}
		})
	}
}

func TestSignWithoutKeys(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t, Config{Disabled: true})
	if got := s.Sign("/x", nil); got != "" {
		t.Errorf("Sign with no keys = %q, want \"\"", got)
	}
	if _, err := s.SignedURL("/x"); !errors.Is(err, ErrNoKeys) {
		t.Errorf("SignedURL with no keys: err = %v, want ErrNoKeys", err)
	}
	var zero Signer
	if err := zero.Verify("/x", nil, vectors[0].sig); !errors.Is(err, ErrNoKeys) {
		t.Errorf("zero Signer Verify = %v, want ErrNoKeys", err)
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	t.Parallel()
	if s, err := New(Config{}); !errors.Is(err, ErrNoKeys) || s != nil {
		t.Errorf("New(Config{}) = %v, %v; want nil, ErrNoKeys", s, err)
	}
}

func TestNewCopiesKeys(t *testing.T) {
	t.Parallel()
	key := vectorKey()
	s := newTestSigner(t, Config{Keys: [][]byte{key}})
	key[0] ^= 0xff
	if got := s.Sign(vectors[0].path, nil); got != vectors[0].sig {
		t.Errorf("Sign after the caller changed its key slice = %q, want %q", got, vectors[0].sig)
	}
}

func TestSignedURL(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t, Config{Keys: [][]byte{vectorKey()}})
	tests := []struct {
		name, in, wantPrefix string
		wantErr              error
	}{
		{"reorders params", "/covers/B123/320x480.webp?v=3f9a1c2b7d4e&exp=1893456000", "/covers/B123/320x480.webp?exp=1893456000&v=3f9a1c2b7d4e&sig=", nil},
		{"empty query", "/covers/B123/320.webp?", "/covers/B123/320.webp?sig=", nil},
		{"escapes values", "/c/x.webp?v=a+b%26c", "/c/x.webp?v=a+b%26c&sig=", nil},
		{"keeps needed path escaping", "/c/a%20b.webp", "/c/a%20b.webp?sig=", nil},
		{"drops needless path escaping", "/covers/NOBOOK/%6Dedium.webp", "/covers/NOBOOK/medium.webp?sig=", nil},
		{"escaped slash decoded", "/c/a%2fb.webp", "/c/a/b.webp?sig=", nil},
		{"re-escapes values", "/c/x.webp?%76=%61", "/c/x.webp?v=a&sig=", nil},
		{"drops empty pairs", "/c/x.webp?&v=1&&", "/c/x.webp?v=1&sig=", nil},
		{"escaped double slash", "/%2Fevil.example/x", "", ErrBadURL},
		{"already signed", "/c/x.webp?v=1&sig=abc", "", ErrBadURL},
		{"relative", "c/x.webp", "", ErrBadURL},
		{"empty", "", "", ErrBadURL},
		{"scheme-relative", "//evil.example/x", "", ErrBadURL},
		{"absolute url", "http://127.0.0.1/x", "", ErrBadURL},
		{"bad query escape", "/c/x.webp?v=%zz", "", ErrBadURL},
		{"semicolon", "/c/x.webp?v=1;exp=2", "", ErrBadURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.SignedURL(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("SignedURL(%q) = %q, %v; want error %v", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !strings.HasPrefix(got, tt.wantPrefix) || len(got) != len(tt.wantPrefix)+SigLen {
				t.Fatalf("SignedURL(%q) = %q, %v; want %q + %d-char sig", tt.in, got, err, tt.wantPrefix, SigLen)
			}
			verifySignedURL(t, s, got)
		})
	}
}

// verifySignedURL parses a signed URL the way the server does and verifies it.
func verifySignedURL(t *testing.T, s *Signer, signed string) {
	t.Helper()
	u, err := url.ParseRequestURI(signed)
	if err != nil {
		t.Fatalf("ParseRequestURI(%q) = %v", signed, err)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		t.Fatalf("ParseQuery(%q) = %v", u.RawQuery, err)
	}
	if n := len(q["sig"]); n != 1 {
		t.Fatalf("signed URL %q has %d sig params, want 1", signed, n)
	}
	sig := q.Get("sig")
	q.Del("sig")
	if err := s.Verify(u.Path, q, sig); err != nil {
		t.Errorf("Verify(path %q, %v, sig from %q) = %v, want nil", u.Path, q, signed, err)
	}
	if again := CanonicalURL(u.Path, q, sig); again != signed {
		t.Errorf("CanonicalURL of the parsed parts of %q = %q, want the signed URL itself", signed, again)
	}
}

func TestCanonicalURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, path string
		params     url.Values
		sig, want  string
	}{
		{"path only", "/covers/B123/320.webp", nil, "", "/covers/B123/320.webp"},
		{"sig only", "/covers/B123/320.webp", nil, "S", "/covers/B123/320.webp?sig=S"},
		{"exp before v before sig", "/c/x.webp", url.Values{"v": {"abc"}, "exp": {"9"}}, "S", "/c/x.webp?exp=9&v=abc&sig=S"},
		{"sig in params is ignored", "/c/x.webp", url.Values{"sig": {"old"}, "v": {"1"}}, "S", "/c/x.webp?v=1&sig=S"},
		{"values sorted", "/c/x.webp", url.Values{"v": {"b", "a"}}, "", "/c/x.webp?v=a&v=b"},
		{"path escaped only where needed", "/c/a b/é.webp", nil, "", "/c/a%20b/%C3%A9.webp"},
		{"query escaped", "/c/x.webp", url.Values{"v": {"a b&c"}}, "", "/c/x.webp?v=a+b%26c"},
		{"empty value kept", "/c/x.webp", url.Values{"v": {""}}, "", "/c/x.webp?v="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := CanonicalURL(tt.path, tt.params, tt.sig); got != tt.want {
				t.Errorf("CanonicalURL(%q, %v, %q) = %q, want %q", tt.path, tt.params, tt.sig, got, tt.want)
			}
		})
	}
}

func TestVerifyAllocatesNothing(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("allocation counts are unreliable under -race (sync.Pool drops items)")
	}
	s := newTestSigner(t, Config{Keys: [][]byte{testKey(64), vectorKey()}})
	v := vectors[2]
	params := mustQuery(t, v.query)
	tests := []struct {
		name string
		sig  string
	}{
		{"match on second key", v.sig},
		{"no match", strings.Repeat("A", 42) + "E"},
		{"malformed", "short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(200, func() { _ = s.Verify(v.path, params, tt.sig) })
			if allocs != 0 {
				t.Errorf("Verify(%s) allocates %.1f times per call, want 0", tt.name, allocs)
			}
		})
	}
}
