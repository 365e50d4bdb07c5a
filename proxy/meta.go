package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/julienschmidt/httprouter"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
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
// (canonical path "/covers/{book_id}/meta.json"), authorised by the same
// step (authoriseRead) and cached like one. A book without a cover is 404
// no_cover: there is no placeholder metadata.
func (h *handlers) meta(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	req, err := parseMeta(ps.ByName("book_id"), r.URL.RawQuery)
	if err != nil {
		return err
	}
	read, err := h.authoriseRead(r, &req)
	switch {
	case err != nil:
		return fmt.Errorf("meta: %w", err)
	case errors.Is(read.manifestErr, cache.ErrNotFound):
		return fmt.Errorf("meta %s: %w", req.BookID, errNoCover)
	case read.manifestErr != nil:
		return fmt.Errorf("meta: %w", read.manifestErr)
	}
	m := read.manifest
	view, err := h.metaView(read.ctx, m, "")
	if err != nil {
		return err
	}
	body, err := json.Marshal(view)
	if err != nil {
		return fmt.Errorf("meta: encode: %w", err)
	}
	hd := w.Header()
	hd.Set("Cache-Control", h.cacheControl(req, m.Version, read.now))
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
	s, err := h.d.Signer.SignedURL(p)
	if err != nil {
		return "", fmt.Errorf("meta: sign cover path: %w", err)
	}
	return s, nil
}
