package signing

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
)

// sharedVector is one entry of testdata/vectors.json, the file the Go, the
// JavaScript (signing/js) and the Python (signing/python) implementations
// are all tested against.
type sharedVector struct {
	Name       string            `json:"name"`
	Note       string            `json:"note"`
	KeyHex     string            `json:"key_hex"`     // the key that made sig
	VerifyKeys []string          `json:"verify_keys"` // the service's key list; [key_hex] when absent
	Input      *sharedInput      `json:"input"`       // signCoverPath's argument (sign_cover_path's), when the path is a cover path
	Path       string            `json:"path"`
	Params     map[string]string `json:"params"` // every parameter but sig, as sent
	Canonical  string            `json:"canonical"`
	Sig        string            `json:"sig"`
	SignedPath string            `json:"signed_path"` // what SignedURL returns; "" for must_fail
	MustFail   bool              `json:"must_fail"`   // Verify with VerifyKeys must reject sig
}

type sharedInput struct {
	BookID  string `json:"bookId"`
	Size    string `json:"size"`
	Format  string `json:"format"`
	Version string `json:"version"`
	Expires int64  `json:"expires"`
}

func loadSharedVectors(t *testing.T) []sharedVector {
	t.Helper()
	raw, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatalf("read vectors: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var vs []sharedVector
	if err := dec.Decode(&vs); err != nil {
		t.Fatalf("decode testdata/vectors.json: %v", err)
	}
	return vs
}

// signerFromHex builds a Signer from hex keys exactly as cmd does from
// IMAGE_SIGNING_KEYS.
func signerFromHex(t *testing.T, hexKeys []string) *Signer {
	t.Helper()
	keys, err := ParseKeys(strings.Join(hexKeys, ","))
	if err != nil {
		t.Fatalf("ParseKeys(%d keys) = %v", len(hexKeys), err)
	}
	return newTestSigner(t, Config{Keys: keys})
}

func toValues(m map[string]string) url.Values {
	q := url.Values{}
	for k, v := range m {
		q.Set(k, v)
	}
	return q
}

// TestSharedVectorsFile checks that the file keeps the cases both
// implementations rely on: the README vectors, unique names, and at least one
// rotation case and one must_fail case of each kind.
func TestSharedVectorsFile(t *testing.T) {
	t.Parallel()
	vs := loadSharedVectors(t)
	names := map[string]bool{}
	var rotation, failPath, failSig bool
	for _, v := range vs {
		if v.Name == "" || names[v.Name] {
			t.Errorf("vector name %q is empty or repeated", v.Name)
		}
		names[v.Name] = true
		if v.MustFail == (v.SignedPath != "") {
			t.Errorf("vector %q: must_fail=%v with signed_path %q; want signed_path exactly when it must verify", v.Name, v.MustFail, v.SignedPath)
		}
		rotation = rotation || len(v.VerifyKeys) > 1 && !v.MustFail
		failPath = failPath || v.MustFail && strings.Contains(v.Name, "path")
		failSig = failSig || v.MustFail && strings.Contains(v.Name, "sig")
	}
	if !rotation || !failPath || !failSig {
		t.Errorf("vectors: rotation=%v tampered path=%v tampered sig=%v; want all present", rotation, failPath, failSig)
	}
	for _, rv := range vectors { // the README table, signing_helpers_test.go
		found := false
		for _, v := range vs {
			if v.KeyHex == vectorKeyHex && v.Path == rv.path && toValues(v.Params).Encode() == rv.query && v.Sig == rv.sig && !v.MustFail {
				found = true
			}
		}
		if !found {
			t.Errorf("README vector %q (%s?%s sig %s) is not in testdata/vectors.json", rv.name, rv.path, rv.query, rv.sig)
		}
	}
}

func TestSharedVectors(t *testing.T) {
	t.Parallel()
	for _, v := range loadSharedVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			params := toValues(v.Params)
			if v.Input != nil {
				checkSharedInput(t, v)
			}
			if got := Canonical(v.Path, params); got != v.Canonical {
				t.Errorf("Canonical(%q, %v) = %q, want %q", v.Path, v.Params, got, v.Canonical)
			}
			verifyKeys := v.VerifyKeys
			if len(verifyKeys) == 0 {
				verifyKeys = []string{v.KeyHex}
			}
			verifier := signerFromHex(t, verifyKeys)
			err := verifier.Verify(v.Path, params, v.Sig)
			if v.MustFail {
				if !errors.Is(err, ErrBadSignature) {
					t.Errorf("Verify(%q, %v, %q) with %d keys = %v, want ErrBadSignature", v.Path, v.Params, v.Sig, len(verifyKeys), err)
				}
				return
			}
			if err != nil {
				t.Errorf("Verify(%q, %v, %q) with %d keys = %v, want nil", v.Path, v.Params, v.Sig, len(verifyKeys), err)
			}
			checkSharedSigning(t, v, params)
			// With several keys the first one signs: SignedURL of the
			// service's signer gives signed_path only when key_hex is first.
			if len(v.VerifyKeys) > 1 {
				in := v.Path
				if len(params) > 0 {
					in += "?" + params.Encode()
				}
				got, err := verifier.SignedURL(in)
				first := strings.EqualFold(v.VerifyKeys[0], v.KeyHex)
				if err != nil || (got == v.SignedPath) != first {
					t.Errorf("SignedURL(%q) with keys[0]==key_hex %v = %q, %v; want signed_path %q iff the signing key is first", in, first, got, err, v.SignedPath)
				}
			}
		})
	}
}

// checkSharedSigning checks Sign and SignedURL with key_hex, then verifies
// signed_path the way the proxy sees it: decoded path, parsed query.
func checkSharedSigning(t *testing.T, v sharedVector, params url.Values) {
	t.Helper()
	s := signerFromHex(t, []string{v.KeyHex})
	if got := s.Sign(v.Path, params); got != v.Sig {
		t.Errorf("Sign(%q, %v) = %q, want %q", v.Path, v.Params, got, v.Sig)
	}
	in := v.Path
	if len(params) > 0 {
		in += "?" + params.Encode()
	}
	if got, err := s.SignedURL(in); err != nil || got != v.SignedPath {
		t.Errorf("SignedURL(%q) = %q, %v; want %q, nil", in, got, err, v.SignedPath)
	}
	u, err := url.ParseRequestURI(v.SignedPath)
	if err != nil {
		t.Fatalf("ParseRequestURI(%q) = %v", v.SignedPath, err)
	}
	q := u.Query()
	if err := s.Verify(u.Path, q, q.Get(sigParam)); err != nil {
		t.Errorf("Verify of signed_path %q as a request = %v, want nil", v.SignedPath, err)
	}
}

// checkSharedInput checks that the structured input (what JS signCoverPath
// takes) describes the same path and params, so the file cannot drift within
// itself.
func checkSharedInput(t *testing.T, v sharedVector) {
	t.Helper()
	in := v.Input
	if want := "/covers/" + in.BookID + "/" + in.Size + "." + in.Format; v.Path != want {
		t.Errorf("path %q, but input builds %q", v.Path, want)
	}
	want := map[string]string{}
	if in.Version != "" {
		want["v"] = in.Version
	}
	if in.Expires != 0 {
		want["exp"] = strconv.FormatInt(in.Expires, 10)
	}
	if !maps.Equal(v.Params, want) {
		t.Errorf("params %v, but input gives %v", v.Params, want)
	}
}
