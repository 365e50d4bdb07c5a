package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestMetaAndV2PublishNoSecrets: meta.json and the /v2/process body of a
// cover whose manifest records a source URL with userinfo and a query
// (signed S3 URL, API token) carry the URL without them, plus the hash of
// the full URL; the manifest the handlers read is left as it was.
func TestMetaAndV2PublishNoSecrets(t *testing.T) {
	t.Parallel()
	const full = "https://reader:pa55w0rd@images.example.com/b123.jpg?X-Amz-Signature=deadbeef&api_token=s3cr3t#frag-tok"
	f := newMetaFixture(t, false, nil)
	m := f.manifests.books["B123"]
	m.SourceURL = full
	f.manifests.books["B123"] = m
	sum := sha256.Sum256([]byte(full))
	bodies := map[string][]byte{
		"meta.json":        serve(f.public, http.MethodGet, f.sign(t, "/covers/B123/meta.json?v=3f9a1c2b7d4e"), nil).Body.Bytes(),
		"POST /v2/process": postV2(f.public, "/v2/process", "application/json", v2Body).Body.Bytes(),
	}
	for name, body := range bodies {
		for _, secret := range []string{"reader", "pa55w0rd", "X-Amz-Signature", "deadbeef", "api_token", "s3cr3t", "frag-tok"} {
			if strings.Contains(string(body), secret) {
				t.Errorf("%s contains %q: %s", name, secret, body)
			}
		}
		var got struct {
			SourceURL string `json:"source_url"`
			Hash      string `json:"source_url_sha256"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%s: %s: %v", name, body, err)
		}
		if got.SourceURL != "https://images.example.com/b123.jpg" || got.Hash != hex.EncodeToString(sum[:]) {
			t.Errorf("%s source_url, source_url_sha256 = %q, %q; want the URL without userinfo and query, and the hash of the full URL", name, got.SourceURL, got.Hash)
		}
	}
	if got := f.manifests.books["B123"].SourceURL; got != full {
		t.Errorf("manifest source URL = %q, want the full URL untouched", got)
	}
}
