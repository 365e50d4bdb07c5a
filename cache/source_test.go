package cache

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/bookcovers/image-worker/cover"
)

// secretURL carries credentials in its userinfo, query and fragment.
const secretURL = "https://reader:pa55w0rd@covers.example:8443/b%201/c.jpg?X-Amz-Signature=deadbeef&api_token=s3cr3t#frag-tok"

// secrets are the parts of secretURL that must never be published.
var secrets = []string{"reader", "pa55w0rd", "X-Amz-Signature", "deadbeef", "api_token", "s3cr3t", "frag-tok", "@", "?"}

func TestPublicSourceURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, raw, want string }{
		{"userinfo, query and fragment dropped", secretURL, "https://covers.example:8443/b%201/c.jpg"},
		{"plain", "https://images.example.com/b123.jpg", "https://images.example.com/b123.jpg"},
		{"empty query marker", "http://h.example/a.jpg?", "http://h.example/a.jpg"},
		{"ipv6 host and port", "http://[2606:4700::1111]:8080/x?t=1", "http://[2606:4700::1111]:8080/x"},
		{"user only", "http://token@h.example/x", "http://h.example/x"},
		{"import", "import:photo-1600x2400-baseline.jpg", "import:photo-1600x2400-baseline.jpg"},
		{"unparsable", "http://h.example/%zz", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := PublicSourceURL(tt.raw); got != tt.want {
				t.Errorf("PublicSourceURL(%q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

func TestSourceURLSHA256(t *testing.T) {
	t.Parallel()
	// sha256("abc"), FIPS 180-2 appendix B.1.
	if got, want := SourceURLSHA256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("SourceURLSHA256(abc) = %s, want %s", got, want)
	}
	if SourceURLSHA256(secretURL) == SourceURLSHA256(PublicSourceURL(secretURL)) {
		t.Errorf("the hash does not tell the full URL from its public form")
	}
}

// TestCoverMetaPublishesNoSecrets: the meta.json body of a manifest whose
// source URL carries userinfo and a query holds neither, both as computed
// and as stored.
func TestCoverMetaPublishesNoSecrets(t *testing.T) {
	t.Parallel()
	s, _ := newMetaFixture(t)
	m := metaManifest
	m.SourceURL = secretURL
	ms := newTestMetas(t, s, &fakePreview{})
	cm, err := ms.Get(t.Context(), m)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	body, err := json.Marshal(cm)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := s.Get(t.Context(), cover.MetaKey(m.BookID, m.Version))
	if err != nil {
		t.Fatalf("stored meta: %v", err)
	}
	for what, b := range map[string][]byte{"meta.json": body, "stored meta record": stored.Data} {
		for _, secret := range secrets {
			if strings.Contains(string(b), secret) {
				t.Errorf("%s contains %q: %s", what, secret, b)
			}
		}
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got["source_url"] != "https://covers.example:8443/b%201/c.jpg" || got["source_url_sha256"] != SourceURLSHA256(secretURL) {
		t.Errorf("source_url, source_url_sha256 = %v, %v; want the public form and the hash of the full URL", got["source_url"], got["source_url_sha256"])
	}
}

func FuzzPublicSourceURL(f *testing.F) {
	for _, s := range []string{secretURL, "http://u@h/", "import:x", "http://h/p?q#f", "http://[::1]:80/?", "//u:p@h/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got := PublicSourceURL(raw)
		if got == "" {
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("PublicSourceURL(%q) = %q, which does not parse: %v", raw, got, err)
		}
		if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(got, "?#") {
			t.Fatalf("PublicSourceURL(%q) = %q keeps userinfo, query or fragment", raw, got)
		}
	})
}
