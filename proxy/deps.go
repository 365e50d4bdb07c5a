package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
)

// ManifestSource resolves a book's current version.
type ManifestSource interface {
	Current(ctx context.Context, bookID string) (cover.Manifest, error)
}

// VariantSource returns a variant's bytes with their ETag, rendering it on a
// miss (cache.Variants: the render is the fill cmd wires), and says whether
// this replica holds a variant in memory without any store read or render.
type VariantSource interface {
	GetVariant(ctx context.Context, key cover.VariantKey) (cache.Variant, error)
	Cached(key cover.VariantKey) (cache.Variant, bool)
}

// JobQueue takes warm jobs.
type JobQueue interface {
	Submit(ctx context.Context, bookID, imageURL string, refresh bool) (ingest.Job, error)
	Get(ctx context.Context, id string) (ingest.Job, error)
}

// Verifier checks URL signatures.
type Verifier interface {
	Verify(path string, params url.Values, sig string) error
	Disabled() bool
}

// Pinger reports whether a dependency is reachable.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Check is one readiness dependency.
type Check struct {
	Name string // "object_store", "kafka", ...
	Pinger
}

// Deps are the components the HTTP layer calls. New refuses a missing
// required one, naming the field, and puts the documented default in place
// of a missing optional one, so no handler checks for nil.
type Deps struct {
	// Required.
	Manifests ManifestSource
	Variants  VariantSource
	Jobs      JobQueue
	Verifier  Verifier
	Purge     func(ctx context.Context, bookID string) (cache.PurgeResult, error)
	Logger    *slog.Logger

	// Placeholders (optional) answers a book without a cover
	// (placeholder.go). Nil, or Config.Placeholders off: 404 no_cover.
	Placeholders PlaceholderSource
	// Checks (optional) are the dependencies /ready reports.
	Checks []Check
	// Draining (optional) is true once shutdown began: /ready answers 503
	// first. Nil: never draining.
	Draining func() bool
	// LogOutput (optional) is the stream Logger writes to (a JSON handler
	// without attributes of its own): access lines are built and written to
	// it directly, in batches. Nil sends them through Logger one at a time.
	LogOutput io.Writer

	// Metadata (GET /covers/{book_id}/meta.json, POST /v2/process),
	// optional: without Metas neither route is served (404 not_found), and
	// POST /v2/process needs JobWaiter too. Signer is required with Metas
	// while signing is on: it signs the cover paths of the answers.
	Metas     MetaSource
	Signer    URLSigner
	JobWaiter JobWaiter
	// ProcessWait is the longest wait of POST /v2/process: the job's own
	// budget. 0: Config.RequestTimeout.
	ProcessWait time.Duration
}

// validate names every required dependency that is missing.
func (d Deps) validate() error {
	var errs []error
	for _, r := range []struct {
		field   string
		missing bool
	}{
		{"Manifests", d.Manifests == nil},
		{"Variants", d.Variants == nil},
		{"Jobs", d.Jobs == nil},
		{"Verifier", d.Verifier == nil},
		{"Purge", d.Purge == nil},
		{"Logger", d.Logger == nil},
	} {
		if r.missing {
			errs = append(errs, fmt.Errorf("proxy: Deps.%s is required", r.field))
		}
	}
	if d.Metas != nil && d.Verifier != nil && !d.Verifier.Disabled() && d.Signer == nil {
		errs = append(errs, errors.New("proxy: Deps.Signer is required with Deps.Metas while signing is on (meta.json lists signed cover paths)"))
	}
	return errors.Join(errs...)
}

// withDefaults puts the documented default in place of each optional
// dependency that is missing.
func (d Deps) withDefaults(cfg Config) Deps {
	if d.Placeholders == nil || !cfg.Placeholders {
		d.Placeholders = noPlaceholders{}
	}
	if d.Draining == nil {
		d.Draining = func() bool { return false }
	}
	if d.ProcessWait <= 0 {
		d.ProcessWait = cfg.RequestTimeout
	}
	return d
}

// noPlaceholders is the PlaceholderSource of a service without
// placeholders: a book without a cover is 404 no_cover.
type noPlaceholders struct{}

func (noPlaceholders) Placeholder(_ context.Context, bookID string, _, _ int, _ string) (cache.Variant, error) {
	return cache.Variant{}, fmt.Errorf("cover %s: placeholders are off: %w", bookID, errNoCover)
}

// notServed answers a route whose optional dependencies were not given:
// 404 not_found, before anything is read or submitted.
func notServed(what string) handlerFunc {
	err := fmt.Errorf("%s is not served: %w", what, errNotFound)
	return func(http.ResponseWriter, *http.Request, httprouter.Params) error { return err }
}
