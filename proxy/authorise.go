package proxy

import (
	"context"
	"net/http"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/signing"
)

// authorisedRead is what authoriseRead gives a cover or meta.json handler.
type authorisedRead struct {
	ctx         context.Context // the request's, within its store budget
	now         time.Time       // when the URL was checked: expiry and Cache-Control
	manifest    cover.Manifest
	manifestErr error // the manifest could not be read: the caller answers it
}

// authoriseRead is the one authorisation step of a signed read, a cover or
// meta.json, once its handler has parsed the request: the URL must be in
// its canonical form, its signature valid (unless signing is disabled) and
// its exp not passed; only then is the book's manifest looked up, within
// the request's store budget (STORE_TIMEOUT). A refused request returns the
// error and nothing has been looked up. A manifest that cannot be read is
// no refusal: it is reported in manifestErr, for each caller to answer (a
// cover with its placeholder or from memory, meta.json with 404).
func (h *handlers) authoriseRead(r *http.Request, req *coverRequest) (authorisedRead, error) {
	if err := checkCanonical(r.URL, req); err != nil {
		return authorisedRead{}, err
	}
	if !h.d.Verifier.Disabled() {
		if err := h.d.Verifier.Verify(r.URL.Path, req.Params, req.Sig); err != nil {
			return authorisedRead{}, err
		}
	}
	now := time.Now()
	if err := signing.CheckExpiry(req.Exp, now); err != nil {
		return authorisedRead{}, err
	}
	ctx := h.storeBudget(r.Context(), now)
	m, err := h.d.Manifests.Current(ctx, req.BookID)
	return authorisedRead{ctx: ctx, now: now, manifest: m, manifestErr: err}, nil
}

// storeBudget gives a request's store calls (manifest, variant, original)
// one deadline, STORE_TIMEOUT after start: when it runs out while the store
// is still being read, the request answers 504 storage_timeout instead of
// waiting. Renders are not bounded by it.
func (h *handlers) storeBudget(ctx context.Context, start time.Time) context.Context {
	return cache.WithStoreBudget(ctx, start.Add(h.cfg.StoreTimeout))
}
