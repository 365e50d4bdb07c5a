package main

import (
	"fmt"
	"slices"
	"strconv"
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
// MIN..MAX_COVER_DIMENSION, FORMAT any output format (webp, avif, jpg) and
// a SIZE without a format means prerenderFormats.
func prerenderConfig(e *env, sizes map[string]int, minDim, maxDim int) ingest.PrerenderConfig {
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

// defaultPrerender is every preset, by width, in WebP then AVIF.
func defaultPrerender(sizes map[string]int) []ingest.PrerenderVariant {
	widths := make([]int, 0, len(sizes))
	for _, w := range sizes {
		if !slices.Contains(widths, w) {
			widths = append(widths, w)
		}
	}
	slices.Sort(widths)
	out := make([]ingest.PrerenderVariant, 0, len(prerenderFormats)*len(widths))
	for _, w := range widths {
		for _, f := range prerenderFormats {
			out = append(out, ingest.PrerenderVariant{Width: w, Format: f})
		}
	}
	return out
}

// parsePrerender parses the items of a PRERENDER list, naming every bad
// one.
func parsePrerender(items []string, sizes map[string]int, minDim, maxDim int) ([]ingest.PrerenderVariant, error) {
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
		w, h, ok := prerenderSize(size, sizes, minDim, maxDim)
		if !ok {
			bad = append(bad, item)
			continue
		}
		for _, f := range formats {
			out = append(out, ingest.PrerenderVariant{Width: w, Height: h, Format: f})
		}
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("PRERENDER: %q: want SIZE or SIZE.webp|avif|jpg, SIZE a COVER_SIZES preset, W or WxH in %d..%d", bad, minDim, maxDim)
	}
	return out, nil
}

// prerenderSize reads a preset name, W or WxH.
func prerenderSize(s string, sizes map[string]int, minDim, maxDim int) (w, h int, ok bool) {
	if w, ok := sizes[s]; ok {
		return w, 0, true
	}
	ws, hs, box := strings.Cut(s, "x")
	w, err := strconv.Atoi(ws)
	if err != nil || w < minDim || w > maxDim {
		return 0, 0, false
	}
	if !box {
		return w, 0, true
	}
	h, err = strconv.Atoi(hs)
	if err != nil || h < minDim || h > maxDim {
		return 0, 0, false
	}
	return w, h, true
}
