package ingest

// The PRERENDER grammar: which variants a new cover is warmed with.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bookcovers/image-worker/cover"
)

// prerenderFormats are the formats prerendered by default and for a
// SIZE without a format: WebP and AVIF, what pages ask for. JPEG (social
// previews, e-mail) is rendered on first request unless listed as SIZE.jpg.
var prerenderFormats = []cover.Format{cover.WebP, cover.AVIF}

// DefaultPrerender is every preset size once, by width (then height, fill
// before fit), in WebP then AVIF.
func DefaultPrerender(sizes map[string]cover.Size) []PrerenderVariant {
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
	out := make([]PrerenderVariant, 0, len(prerenderFormats)*len(distinct))
	for _, sz := range distinct {
		for _, f := range prerenderFormats {
			out = append(out, PrerenderVariant{Width: sz.Width, Height: sz.Height, Fit: sz.Fit, Format: f})
		}
	}
	return out
}

// ParsePrerender parses the items of a PRERENDER list (SIZE or
// SIZE.FORMAT; SIZE a preset name of sizes, W, WxH or WxHf within
// minDim..maxDim), naming every bad one.
func ParsePrerender(items []string, sizes map[string]cover.Size, minDim, maxDim int) ([]PrerenderVariant, error) {
	var out []PrerenderVariant
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
			out = append(out, PrerenderVariant{Width: sz.Width, Height: sz.Height, Fit: sz.Fit, Format: f})
		}
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("%q: want SIZE or SIZE.webp|avif|jpg, SIZE a COVER_SIZES preset, W, WxH or WxHf in %d..%d", bad, minDim, maxDim)
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
