package main

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/bookcovers/image-worker/internal/hostile"
)

// TestHostileClassesNeverReplaceAGoodCover, end to end: a book has a good
// cover, then every hostile class is posted as its next original through
// POST /process. Each job fails with the class's code and a public message,
// the book keeps its version, and its cover URL keeps answering the good
// cover, never a placeholder, an error or a broken image. The service is
// alive at the end.
func TestHostileClassesNeverReplaceAGoodCover(t *testing.T) {
	real, err := hostile.ReadReal("../../testdata")
	if err != nil {
		t.Fatal(err)
	}
	src := newSource(t)
	svc := startService(t, localStore(t), src, nil)
	good := svc.warm("KEEP", src.add("/keep.jpg", real.JPEG))
	url := svc.signed("/covers/KEEP/320.webp")
	resp, want := do(t, http.MethodGet, url, nil)
	if resp.StatusCode != 200 || resp.Header.Get("X-Cover-Placeholder") == "true" {
		t.Fatalf("GET the good cover = %d placeholder=%q", resp.StatusCode, resp.Header.Get("X-Cover-Placeholder"))
	}
	for _, c := range hostile.Classes(real) {
		t.Run(c.Name, func(t *testing.T) {
			j := processAndWait(t, svc, "KEEP", src.add("/next/"+bookIDFor(c.Name), c.Data))
			if j.State != "failed" || j.Error == nil || j.Error.Code != c.Code || j.Error.Message == "" {
				t.Fatalf("job = %+v; want failed with %q and a message", j, c.Code)
			}
			m, err := svc.app.manifests.Load(context.Background(), "KEEP")
			if err != nil || m.Version != good.Version {
				t.Fatalf("manifest after the job = %+v, %v; want version %s", m, err, good.Version)
			}
			resp, got := do(t, http.MethodGet, url, nil)
			if resp.StatusCode != 200 || resp.Header.Get("X-Cover-Placeholder") == "true" || !bytes.Equal(got, want) {
				t.Fatalf("GET the cover after the job = %d placeholder=%q same=%v; want 200 and the good cover", resp.StatusCode, resp.Header.Get("X-Cover-Placeholder"), bytes.Equal(got, want))
			}
		})
	}
	if resp, _ := do(t, http.MethodGet, svc.base+"/health", nil); resp.StatusCode != 200 {
		t.Fatalf("/health after the hostile classes = %d", resp.StatusCode)
	}
	resp, body := do(t, http.MethodGet, svc.signed("/covers/KEEP/200.webp"), nil)
	if resp.StatusCode != 200 || decodeVariant(t, body).width != 200 {
		t.Fatalf("a new variant of the good cover after the hostile classes = %d", resp.StatusCode)
	}
}
