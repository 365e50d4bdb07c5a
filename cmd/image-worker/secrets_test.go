package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
)

// TestPublishedMetadataCarriesNoURLSecrets: a cover fetched from a URL with
// a signed query is published by POST /v2/process and meta.json with the
// URL without its query, plus the hash of the full URL; the stored
// meta.json record holds no query either, while the stored manifest keeps
// the full URL, so posting the same URL again downloads nothing. A URL with
// userinfo is refused with 400 invalid_url, its credentials not echoed.
func TestPublishedMetadataCarriesNoURLSecrets(t *testing.T) {
	src := newSource(t)
	original := readTestdata(t, "photo-1600x2400-baseline.jpg")
	public := src.add("/signed/b1.jpg", original)
	full := public + "?X-Amz-Credential=AKIDEXAMPLE&X-Amz-Signature=deadbeef0123&api_token=s3cr3t"
	secrets := []string{"X-Amz", "AKIDEXAMPLE", "deadbeef0123", "api_token", "s3cr3t"}
	sum := sha256.Sum256([]byte(full))
	store := localStore(t)
	svc := startService(t, store, src, nil)

	resp, v2 := postV2(t, svc.base, "S1", full)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v2/process = %d %s, want 200", resp.StatusCode, v2)
	}
	_, meta := do(t, http.MethodGet, svc.signed("/covers/S1/meta.json"), nil)
	var version string
	for name, body := range map[string][]byte{"POST /v2/process": v2, "meta.json": meta} {
		var got struct {
			Version   string `json:"version"`
			SourceURL string `json:"source_url"`
			Hash      string `json:"source_url_sha256"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%s: %s: %v", name, body, err)
		}
		if got.SourceURL != public || got.Hash != hex.EncodeToString(sum[:]) {
			t.Errorf("%s source_url, source_url_sha256 = %q, %q; want %q and the hash of the full URL", name, got.SourceURL, got.Hash, public)
		}
		for _, s := range secrets {
			if strings.Contains(string(body), s) {
				t.Errorf("%s contains %q: %s", name, s, body)
			}
		}
		version = got.Version
	}
	record, err := store.Get(context.Background(), cover.MetaKey("S1", version))
	if err != nil {
		t.Fatalf("stored meta record: %v", err)
	}
	for _, s := range secrets {
		if strings.Contains(string(record.Data), s) {
			t.Errorf("stored meta record contains %q: %s", s, record.Data)
		}
	}
	m, err := cache.NewManifests(store, time.Second, 5*time.Second).Load(context.Background(), "S1")
	if err != nil || m.SourceURL != full {
		t.Errorf("stored manifest source_url = %q (%v), want the full URL %q", m.SourceURL, err, full)
	}
	svc.warm("S1", full)
	if n := src.count("/signed/b1.jpg"); n != 1 {
		t.Errorf("the origin was fetched %d times for the same URL, want 1", n)
	}

	resp, body := postV2(t, svc.base, "S2", strings.Replace(public, "http://", "http://reader:pa55w0rd@", 1))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"invalid_url"`) ||
		strings.Contains(string(body), "reader") || strings.Contains(string(body), "pa55w0rd") {
		t.Errorf("POST /v2/process with userinfo = %d %s, want 400 invalid_url without the credentials", resp.StatusCode, body)
	}
}
