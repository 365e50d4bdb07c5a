package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/signing"
)

// metaFile is the file name under /covers/{book_id}/ that the route table
// dispatches to the metadata handler instead of the cover handler.
const metaFile = "meta.json"

// MetaSource returns the metadata of a manifest's version, computing it
// once per version.
type MetaSource interface {
	Get(ctx context.Context, m cover.Manifest) (cache.CoverMeta, error)
}

// URLSigner signs a path with its query ("/covers/B1/thumb.webp?v=x").
type URLSigner interface {
	SignedURL(pathAndQuery string) (string, error)
}

// coverLinks are the paths of one preset, one per format (cover.Formats):
// {"avif": ..., "webp": ...}.
type coverLinks map[cover.Format]string

// metaView is the body of GET /covers/{book_id}/meta.json and, with job_id,
// of a successful POST /v2/process.
type metaView struct {
	JobID string `json:"job_id,omitempty"`
	cache.CoverMeta
	Covers map[string]coverLinks `json:"covers"`
}

// meta serves GET and HEAD /covers/{book_id}/meta.json, signed like a cover
// (canonical path "/covers/{book_id}/meta.json") and cached like one. A book
// without a cover is 404 no_cover: there is no placeholder metadata.
func (h *handlers) meta(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	req := coverRequest{BookID: ps.ByName("book_id")}
	if err := cover.ValidBookID(req.BookID); err != nil {
		return fmt.Errorf("meta: %w", err)
	}
	if err := parseCoverQuery(r.URL.RawQuery, &req); err != nil {
		return err
	}
	if err := checkCanonical(r.URL, &req); err != nil {
		return fmt.Errorf("meta: %w", err)
	}
	if !h.d.Verifier.Disabled() {
		if err := h.d.Verifier.Verify(r.URL.Path, req.Params, req.Sig); err != nil {
			return fmt.Errorf("meta: %w", err)
		}
	}
	now := time.Now()
	if err := signing.CheckExpiry(req.Exp, now); err != nil {
		return fmt.Errorf("meta: %w", err)
	}
	if h.d.Metas == nil {
		return fmt.Errorf("meta: no metadata source: %w", errNotFound)
	}
	ctx := h.storeBudget(r.Context(), now)
	m, err := h.d.Manifests.Current(ctx, req.BookID)
	if errors.Is(err, cache.ErrNotFound) {
		return fmt.Errorf("meta %s: %w", req.BookID, errNoCover)
	}
	if err != nil {
		return fmt.Errorf("meta: %w", err)
	}
	view, err := h.metaView(ctx, m, "")
	if err != nil {
		return err
	}
	body, err := json.Marshal(view)
	if err != nil {
		return fmt.Errorf("meta: encode: %w", err)
	}
	hd := w.Header()
	hd.Set("Cache-Control", h.cacheControl(req, m.Version, now))
	setBookKeys(hd, req.BookID)
	writeBody(w, r, body, "application/json", m.UpdatedAt)
	return nil
}

// metaView loads the metadata of m's version and adds the cover paths.
func (h *handlers) metaView(ctx context.Context, m cover.Manifest, jobID string) (metaView, error) {
	cm, err := h.d.Metas.Get(ctx, m)
	if err != nil {
		return metaView{}, fmt.Errorf("meta: %w", err)
	}
	covers, err := h.coverPaths(m.BookID, m.Version)
	if err != nil {
		return metaView{}, err
	}
	return metaView{JobID: jobID, CoverMeta: cm, Covers: covers}, nil
}

// coverPaths names every preset in every format at version v: signed, or
// plain when signing is disabled.
func (h *handlers) coverPaths(bookID, version string) (map[string]coverLinks, error) {
	formats := cover.Formats()
	out := make(map[string]coverLinks, len(h.cfg.Sizes))
	for preset := range h.cfg.Sizes {
		l := make(coverLinks, len(formats))
		for _, f := range formats {
			p, err := h.coverPath(bookID, version, preset, f)
			if err != nil {
				return nil, err
			}
			l[f] = p
		}
		out[preset] = l
	}
	return out, nil
}

// coverPath is the path of one preset and format at version v: signed, or
// plain when signing is disabled.
func (h *handlers) coverPath(bookID, version, preset string, f cover.Format) (string, error) {
	p := "/covers/" + bookID + "/" + preset + "." + string(f) + "?v=" + url.QueryEscape(version)
	if h.d.Verifier.Disabled() {
		return p, nil
	}
	if h.d.Signer == nil {
		return "", errors.New("meta: signing is enabled but no signer was wired")
	}
	s, err := h.d.Signer.SignedURL(p)
	if err != nil {
		return "", fmt.Errorf("meta: sign cover path: %w", err)
	}
	return s, nil
}
