package main

import (
	"fmt"
	"strings"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
)

// prerenderConfig reads PRERENDER: unset, every COVER_SIZES preset in WebP
// and AVIF; empty, "off" or "none", no warming; otherwise a comma-separated
// list of SIZE or SIZE.FORMAT, where SIZE is a preset name, W or WxH within
// MIN..MAX_COVER_DIMENSION, or WxHf (a fit box), FORMAT any output format
// (webp, avif, jpg) and a SIZE without a format means WebP and AVIF (ingest.ParsePrerender).
func prerenderConfig(e *env, sizes map[string]cover.Size, minDim, maxDim int) ingest.PrerenderConfig {
	c := ingest.DefaultPrerenderConfig()
	raw, set := e.lookup("PRERENDER")
	raw = strings.TrimSpace(raw)
	if !set {
		c.Variants = ingest.DefaultPrerender(sizes)
		return c
	}
	if raw == "" || strings.EqualFold(raw, "off") || strings.EqualFold(raw, "none") {
		return c
	}
	vs, err := ingest.ParsePrerender(e.list("PRERENDER"), sizes, minDim, maxDim)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("PRERENDER: %w", err))
	}
	c.Variants = vs
	return c
}
