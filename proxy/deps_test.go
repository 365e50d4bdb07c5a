package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
)

// errUnwired is what a required dependency a test does not use answers.
var errUnwired = errors.New("test: dependency not wired")

// unwired stands in for the required dependencies a test never calls:
// every call fails with errUnwired (500 internal).
type unwired struct{}

func (unwired) Current(context.Context, string) (cover.Manifest, error) {
	return cover.Manifest{}, errUnwired
}

func (unwired) GetVariant(context.Context, cover.VariantKey) (cache.Variant, error) {
	return cache.Variant{}, errUnwired
}

func (unwired) Cached(cover.VariantKey) (cache.Variant, bool) { return cache.Variant{}, false }

func (unwired) Submit(context.Context, string, string, bool) (ingest.Job, error) {
	return ingest.Job{}, errUnwired
}

func (unwired) Get(context.Context, string) (ingest.Job, error) { return ingest.Job{}, errUnwired }

func (unwired) Verify(string, url.Values, string) error { return errUnwired }

func (unwired) Disabled() bool { return false }

func unwiredPurge(context.Context, string) (cache.PurgeResult, error) {
	return cache.PurgeResult{}, errUnwired
}

// wired fills the required dependencies d leaves nil with unwired ones.
func wired(d Deps) Deps {
	if d.Manifests == nil {
		d.Manifests = unwired{}
	}
	if d.Variants == nil {
		d.Variants = unwired{}
	}
	if d.Jobs == nil {
		d.Jobs = unwired{}
	}
	if d.Verifier == nil {
		d.Verifier = unwired{}
	}
	if d.Purge == nil {
		d.Purge = unwiredPurge
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return d
}

// TestNewRefusesMissingDependencies: New names every missing required
// dependency, and the signer meta.json needs while signing is on.
func TestNewRefusesMissingDependencies(t *testing.T) {
	t.Parallel()
	_, err := New(DefaultConfig(), Deps{})
	for _, field := range []string{"Manifests", "Variants", "Jobs", "Verifier", "Purge", "Logger"} {
		if err == nil || !strings.Contains(err.Error(), "Deps."+field+" is required") {
			t.Errorf("New(empty Deps) = %v, want an error naming Deps.%s", err, field)
		}
	}
	if _, err := New(DefaultConfig(), wired(Deps{Metas: &metaSource{}})); err == nil || !strings.Contains(err.Error(), "Deps.Signer") {
		t.Errorf("New(Metas, signing on, no Signer) = %v, want an error naming Deps.Signer", err)
	}
	if _, err := New(DefaultConfig(), wired(Deps{Metas: &metaSource{}, Verifier: readmeSigner(t, true)})); err != nil {
		t.Errorf("New(Metas, signing off, no Signer) = %v, want nil", err)
	}
	if _, err := New(DefaultConfig(), wired(Deps{})); err != nil {
		t.Errorf("New(required only) = %v, want nil", err)
	}
}

// TestOptionalDependencies: without Metas, meta.json and POST /v2/process
// are 404 not_found and no job is submitted; without JobWaiter, POST
// /v2/process alone; with Config.Placeholders off, a given placeholder
// source is never asked; without Draining, /ready is never draining.
func TestOptionalDependencies(t *testing.T) {
	t.Parallel()
	code := func(rec *httptest.ResponseRecorder) string {
		var e errorBody
		_ = json.Unmarshal(rec.Body.Bytes(), &e)
		return e.Error.Code
	}
	for _, mutate := range []func(*Deps){
		func(d *Deps) { d.Metas = nil },
		func(d *Deps) { d.JobWaiter = nil },
	} {
		f := newMetaFixture(t, false, mutate)
		rec := postV2(f.public, "/v2/process", "application/json", v2Body)
		if rec.Code != http.StatusNotFound || code(rec) != "not_found" || len(f.jobs.submits) != 0 {
			t.Errorf("POST /v2/process without its dependencies = %d %s, %d submits; want 404 not_found and none", rec.Code, code(rec), len(f.jobs.submits))
		}
	}
	f := newMetaFixture(t, false, func(d *Deps) { d.Metas = nil })
	if rec := serve(f.public, http.MethodGet, f.sign(t, "/covers/B123/meta.json"), nil); rec.Code != http.StatusNotFound || code(rec) != "not_found" {
		t.Errorf("meta.json without Metas = %d %s, want 404 not_found", rec.Code, code(rec))
	}

	src := &fakePlaceholders{}
	cfg := DefaultConfig()
	cfg.Placeholders = false
	srv, err := New(cfg, wired(Deps{Manifests: &metaManifests{}, Verifier: readmeSigner(t, true), Placeholders: src}))
	if err != nil {
		t.Fatal(err)
	}
	rec := serve(srv.Public(), http.MethodGet, "/covers/NOCOVER-1/320.webp", nil)
	if rec.Code != http.StatusNotFound || code(rec) != "no_cover" || len(src.calls) != 0 {
		t.Errorf("no cover with PLACEHOLDERS off = %d %s, %d placeholder calls; want 404 no_cover and none", rec.Code, code(rec), len(src.calls))
	}
	if rec := serve(srv.Public(), http.MethodGet, "/ready", nil); rec.Code != http.StatusOK {
		t.Errorf("/ready without Draining = %d, want 200", rec.Code)
	}
}
