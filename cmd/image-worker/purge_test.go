package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestPurgeRemovesABookClusterWide(t *testing.T) {
	src := newSource(t)
	store := localStore(t)
	svc := startService(t, store, src, map[string]string{"ADMIN_TOKEN": "s3cret-admin-token"})
	other := startService(t, svc.app.store, src, nil)
	svc.warm("GONE", src.add("/g.jpg", readTestdata(t, "photo-1600x2400-baseline.jpg")))
	for _, s := range []*service{svc, other} {
		for _, p := range []string{"/covers/GONE/medium.webp", "/covers/GONE/200x300.avif"} {
			if resp, _ := do(t, http.MethodGet, s.signed(p), nil); resp.StatusCode != 200 || resp.Header.Get("X-Cover-Placeholder") != "" {
				t.Fatalf("GET %s before purge = %d placeholder=%q", p, resp.StatusCode, resp.Header.Get("X-Cover-Placeholder"))
			}
		}
	}
	for _, hdr := range []map[string]string{nil, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-admin-token"}} {
		resp, body := do(t, http.MethodDelete, svc.base+"/covers/GONE", hdr)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("public DELETE with %v = %d %s, want 401", hdr, resp.StatusCode, body)
		}
	}
	if resp, _ := do(t, http.MethodDelete, other.base+"/covers/GONE", map[string]string{"Authorization": "Bearer "}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("public DELETE on a replica without ADMIN_TOKEN = %d, want 401", resp.StatusCode)
	}
	resp, body := do(t, http.MethodDelete, svc.base+"/covers/GONE", map[string]string{"Authorization": "Bearer s3cret-admin-token"})
	var out struct {
		BookID         string   `json:"book_id"`
		DeletedObjects int      `json:"deleted_objects"`
		SurrogateKey   string   `json:"surrogate_key"`
		PurgePaths     []string `json:"purge_paths"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &out) != nil {
		t.Fatalf("DELETE = %d %s", resp.StatusCode, body)
	}
	// manifest + original + 2 variants (medium = 320 webp, 200x300 avif)
	if out.DeletedObjects != 4 || out.SurrogateKey != "book-GONE" ||
		!slices.Contains(out.PurgePaths, "/covers/GONE/medium.webp") || !slices.Contains(out.PurgePaths, "/covers/GONE/320.webp") ||
		!slices.Contains(out.PurgePaths, "/covers/GONE/200x300.avif") || !slices.Contains(out.PurgePaths, "/covers/GONE/*") {
		t.Errorf("purge response = %+v", out)
	}
	if resp, _ := do(t, http.MethodGet, svc.signed("/covers/GONE/medium.webp"), nil); resp.Header.Get("X-Cover-Placeholder") != "true" {
		t.Errorf("purging replica still serves the cover")
	}
	time.Sleep(1100 * time.Millisecond) // MANIFEST_TTL=1s
	if resp, _ := do(t, http.MethodGet, other.signed("/covers/GONE/medium.webp"), nil); resp.Header.Get("X-Cover-Placeholder") != "true" {
		t.Errorf("other replica still serves the cover after MANIFEST_TTL")
	}
	if resp, _ := do(t, http.MethodDelete, other.internal+"/covers/GONE", nil); resp.StatusCode != 200 {
		t.Errorf("internal DELETE without token = %d, want 200", resp.StatusCode)
	}
	if resp, _ := do(t, http.MethodDelete, svc.internal+"/covers/..", nil); resp.StatusCode != 400 {
		t.Errorf("DELETE bad id = %d, want 400", resp.StatusCode)
	}
}
