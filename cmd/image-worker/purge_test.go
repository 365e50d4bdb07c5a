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
	for _, base := range []string{svc.base, svc.internal} {
		for _, c := range []struct {
			hdr  map[string]string
			want int
		}{
			{nil, http.StatusUnauthorized},
			{map[string]string{"Authorization": "s3cret-admin-token"}, http.StatusUnauthorized},
			{map[string]string{"Authorization": "Bearer wrong"}, http.StatusForbidden},
		} {
			if resp, body := do(t, http.MethodDelete, base+"/covers/GONE", c.hdr); resp.StatusCode != c.want {
				t.Errorf("DELETE %s/covers/GONE with %v = %d %s, want %d", base, c.hdr, resp.StatusCode, body, c.want)
			}
		}
	}
	for _, base := range []string{other.base, other.internal} {
		if resp, _ := do(t, http.MethodDelete, base+"/covers/GONE", map[string]string{"Authorization": "Bearer "}); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("DELETE %s on a replica without ADMIN_TOKEN = %d, want 401", base, resp.StatusCode)
		}
		if resp, _ := do(t, http.MethodDelete, base+"/covers/GONE", map[string]string{"Authorization": "Bearer s3cret-admin-token"}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("DELETE %s with a token on a replica without ADMIN_TOKEN = %d, want 403", base, resp.StatusCode)
		}
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
	// manifest + its reference and user marker + the original, its check
	// (info.json) and 2 variants (medium = 320 webp, 200x300 avif): no
	// other book uses its content.
	if out.DeletedObjects != 7 || out.SurrogateKey != "book-GONE" ||
		!slices.Contains(out.PurgePaths, "/covers/GONE/medium.webp") || !slices.Contains(out.PurgePaths, "/covers/GONE/320.webp") ||
		!slices.Contains(out.PurgePaths, "/covers/GONE/200x300.avif") || !slices.Contains(out.PurgePaths, "/covers/GONE/*") {
		t.Errorf("purge response = %+v", out)
	}
	for _, prefix := range []string{"manifests/", "refs/", "users/", "content/", "originals/", "variants/", "meta/"} {
		if left, err := store.List(t.Context(), prefix); err != nil || len(left) != 0 {
			t.Errorf("after the purge %s holds %v (%v), want nothing", prefix, left, err)
		}
	}
	if resp, _ := do(t, http.MethodGet, svc.signed("/covers/GONE/medium.webp"), nil); resp.Header.Get("X-Cover-Placeholder") != "true" {
		t.Errorf("purging replica still serves the cover")
	}
	time.Sleep(1100 * time.Millisecond) // MANIFEST_TTL=1s
	if resp, _ := do(t, http.MethodGet, other.signed("/covers/GONE/medium.webp"), nil); resp.Header.Get("X-Cover-Placeholder") != "true" {
		t.Errorf("other replica still serves the cover after MANIFEST_TTL")
	}
	admin := map[string]string{"Authorization": "Bearer s3cret-admin-token"}
	if resp, _ := do(t, http.MethodDelete, svc.internal+"/covers/GONE", admin); resp.StatusCode != 200 {
		t.Errorf("internal DELETE with the admin token = %d, want 200", resp.StatusCode)
	}
	if resp, _ := do(t, http.MethodDelete, svc.internal+"/covers/..", admin); resp.StatusCode != 400 {
		t.Errorf("DELETE bad id = %d, want 400", resp.StatusCode)
	}
}
