package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/ingest"
)

// prerenderFormats are the formats PRERENDER warms by default and for a
// SIZE without a format: WebP and AVIF, what pages ask for. JPEG (social
// previews, e-mail) is rendered on first request unless listed as SIZE.jpg.
var prerenderFormats = []cover.Format{cover.WebP, cover.AVIF}

// prerenderConfig reads PRERENDER: unset, every COVER_SIZES preset in WebP
// and AVIF; empty, "off" or "none", no warming; otherwise a comma-separated
// list of SIZE or SIZE.FORMAT, where SIZE is a preset name, W or WxH within
// MIN..MAX_COVER_DIMENSION, or WxHf (a fit box), FORMAT any output format
// (webp, avif, jpg) and a SIZE without a format means prerenderFormats.
func prerenderConfig(e *env, sizes map[string]cover.Size, minDim, maxDim int) ingest.PrerenderConfig {
	c := ingest.DefaultPrerenderConfig()
	raw, set := e.lookup("PRERENDER")
	raw = strings.TrimSpace(raw)
	if !set {
		c.Variants = defaultPrerender(sizes)
		return c
	}
	if raw == "" || strings.EqualFold(raw, "off") || strings.EqualFold(raw, "none") {
		return c
	}
	vs, err := parsePrerender(e.list("PRERENDER"), sizes, minDim, maxDim)
	if err != nil {
		e.errs = append(e.errs, err)
	}
	c.Variants = vs
	return c
}

// defaultPrerender is every preset size once, by width (then height, fill
// before fit), in WebP then AVIF.
func defaultPrerender(sizes map[string]cover.Size) []ingest.PrerenderVariant {
	distinct := make([]cover.Size, 0, len(sizes))
	for _, sz := range sizes {
		if !slices.Contains(distinct, sz) {
			distinct = append(distinct, sz)
		}
	}
	slices.SortFunc(distinct, func(a, b cover.Size) int {
		if a.Width != b.Width {
			return a.Width - b.Width
		}
		if a.Height != b.Height {
			return a.Height - b.Height
		}
		return strings.Compare(a.String(), b.String())
	})
	out := make([]ingest.PrerenderVariant, 0, len(prerenderFormats)*len(distinct))
	for _, sz := range distinct {
		for _, f := range prerenderFormats {
			out = append(out, ingest.PrerenderVariant{Width: sz.Width, Height: sz.Height, Fit: sz.Fit, Format: f})
		}
	}
	return out
}

// parsePrerender parses the items of a PRERENDER list, naming every bad
// one.
func parsePrerender(items []string, sizes map[string]cover.Size, minDim, maxDim int) ([]ingest.PrerenderVariant, error) {
	var out []ingest.PrerenderVariant
	var bad []string
	for _, item := range items {
		size, format, hasFormat := strings.Cut(item, ".")
		formats := prerenderFormats
		if hasFormat {
			f, err := cover.ParseFormat(format)
			if err != nil {
				bad = append(bad, item)
				continue
			}
			formats = []cover.Format{f}
		}
		sz, ok := prerenderSize(size, sizes, minDim, maxDim)
		if !ok {
			bad = append(bad, item)
			continue
		}
		for _, f := range formats {
			out = append(out, ingest.PrerenderVariant{Width: sz.Width, Height: sz.Height, Fit: sz.Fit, Format: f})
		}
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("PRERENDER: %q: want SIZE or SIZE.webp|avif|jpg, SIZE a COVER_SIZES preset, W, WxH or WxHf in %d..%d", bad, minDim, maxDim)
	}
	return out, nil
}

// prerenderSize reads a preset name, W, WxH or WxHf (cover.ParseSize).
func prerenderSize(s string, sizes map[string]cover.Size, minDim, maxDim int) (cover.Size, bool) {
	if sz, ok := sizes[s]; ok {
		return sz, true
	}
	sz, err := cover.ParseSize(s)
	inRange := func(n int) bool { return n >= minDim && n <= maxDim }
	if err != nil || !inRange(sz.Width) || sz.Height != 0 && !inRange(sz.Height) {
		return cover.Size{}, false
	}
	return sz, true
}
