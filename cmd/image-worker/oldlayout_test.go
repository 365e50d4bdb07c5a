package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
)

// TestCoverStoredBeforeContentKeys: a book stored before originals were
// kept by content (its original under originals/{book}/{version}, a
// manifest without content) is served, rendered under its own keys
// (variants/{book}/{version}/...) and purged as before, with no migration.
func TestCoverStoredBeforeContentKeys(t *testing.T) {
	store := localStore(t)
	original := readTestdata(t, "photo-1600x2400-baseline.jpg")
	version := ingest.Version(original)
	m := cover.Manifest{BookID: "OLD", Version: version, SourceURL: "https://img.example/old.jpg", ContentType: "image/jpeg",
		Width: 1600, Height: 2400, Bytes: int64(len(original)), UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	manifest, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := store.Put(ctx, cover.OriginalKey("OLD", version), original, "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	if err := store.Put(ctx, cover.ManifestKey("OLD"), manifest, "application/json"); err != nil {
		t.Fatal(err)
	}
	svc := startService(t, store, nil, map[string]string{"ADMIN_TOKEN": "s3cret-admin-token"})
	resp, body := do(t, http.MethodGet, svc.signed("/covers/OLD/320.webp"), nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Cover-Placeholder") != "" || resp.Header.Get("Content-Type") != "image/webp" || len(body) == 0 {
		t.Fatalf("GET /covers/OLD/320.webp = %d %s placeholder=%q; want the old cover rendered", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("X-Cover-Placeholder"))
	}
	deadline := time.Now().Add(10 * time.Second) // the variant is written behind its response
	for {
		keys, err := store.List(ctx, "variants/OLD/"+version+"/")
		if err == nil && len(keys) == 1 && keys[0] == "variants/OLD/"+version+"/320.webp" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("variants of the old cover = %v (%v); want variants/OLD/%s/320.webp", keys, err, version)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if keys, _ := store.List(ctx, "content/"); len(keys) != 0 {
		t.Errorf("serving an old cover stored %v by content; want nothing", keys)
	}
	resp, body = do(t, http.MethodDelete, svc.base+"/covers/OLD", map[string]string{"Authorization": "Bearer s3cret-admin-token"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE /covers/OLD = %d %s", resp.StatusCode, body)
	}
	for _, prefix := range []string{"manifests/", "originals/", "variants/"} {
		if left, err := store.List(ctx, prefix); err != nil || len(left) != 0 {
			t.Errorf("after the purge %s holds %v (%v), want nothing", prefix, left, err)
		}
	}
}
