package transform

import (
	"math"
	"math/bits"
)

// Traits are what the ingest check learns from an original's pixels, all
// from the one sample it decodes (metaSampleWidth wide, opaque 8-bit sRGB,
// alpha flattened onto white, as Meta's): enough for a caller to tell a
// publisher's "no image" picture from a cover, and the previews a catalog
// can show before the image arrives. Nothing here decides: the rules and
// their thresholds are the caller's (package ingest).
type Traits struct {
	// Deviation is how much the sample's pixels vary, in 8-bit levels: the
	// square root of the mean of the three channels' variances. A flat
	// picture is 0; the real covers of the test corpus are above 30.
	Deviation float64 `json:"deviation"`
	// DHash is the 64-bit difference hash of the sample (DifferenceHash): a
	// rescaled or re-encoded copy of a picture has a hash within a few bits
	// of the original's (HashDistance).
	DHash uint64 `json:"dhash"`
	// DominantColor and BlurHash are Meta's, from the same sample.
	DominantColor string `json:"dominant_color"`
	BlurHash      string `json:"blurhash"`
}

// Checked is the result of Renderer.Check: the header's Info and, when the
// original was decoded (a render worker ran), the Traits of its pixels.
type Checked struct {
	Info
	Traits *Traits // nil when no pixels were looked at
}

// traitsOf computes the Traits of a sample of packed 8-bit RGB, w x h.
func traitsOf(rgb []byte, w, h int) Traits {
	return Traits{
		Deviation:     Deviation(rgb),
		DHash:         DifferenceHash(rgb, w, h),
		DominantColor: dominantColour(rgb),
		BlurHash:      EncodeBlurHash(rgb, w, h, BlurHashX, BlurHashY),
	}
}

// Deviation is the square root of the mean of the variances of the three
// channels of packed 8-bit RGB pixels: 0 for a single colour, about 128 for
// half black and half white. No pixels is 0.
func Deviation(rgb []byte) float64 {
	n := len(rgb) / 3
	if n == 0 {
		return 0
	}
	var sum, sq [3]float64
	for i := 0; i+2 < len(rgb); i += 3 {
		for c := range 3 {
			v := float64(rgb[i+c])
			sum[c] += v
			sq[c] += v * v
		}
	}
	var variance float64
	for c := range 3 {
		mean := sum[c] / float64(n)
		variance += max(0, sq[c]/float64(n)-mean*mean)
	}
	return math.Sqrt(variance / 3)
}

// The grid of the difference hash: each of its 8 rows gives 8 bits, one
// per pair of neighbouring cells.
const (
	dhashCols = 9
	dhashRows = 8
)

// dhashMargin is how much darker, in levels of luma, a cell must be than
// its right neighbour for their bit to be set. In a flat area the two are
// equal but for compression noise, and a plain dHash gives noise there: a
// "no image" picture, mostly flat, then lands 13-16 bits from a copy of
// itself saved as a JPEG, against at most 5 with the margin (measured on
// copies from 40x60 to 1200x1800 at JPEG quality 30 to 95).
const dhashMargin = 1.0

// DifferenceHash is the 64-bit dHash of packed 8-bit RGB pixels, w x h:
// the luma (Rec. 601) averaged over a grid of 9 x 8 equal areas, and for
// each row a bit per pair of neighbouring cells, set when the left one is
// darker by more than dhashMargin, first row first, leftmost pair in the
// most significant bit. It depends on the picture's layout, not on its size
// or encoding, so a copy rescaled or saved again lands within a few bits of
// it. A flat picture hashes to 0, and the fewer edges a picture has, the
// fewer bits are set: callers compare pictures of like contrast only. (A
// pHash, DCT coefficients against their median, was measured too and
// refused: a picture symmetric left to right, as most "no image" pictures
// are, has half its coefficients near zero, and its copies landed up to 20
// bits away.)
func DifferenceHash(rgb []byte, w, h int) uint64 {
	if w < 1 || h < 1 || len(rgb) < w*h*3 {
		return 0
	}
	luma := make([]float64, w*h)
	for i := range luma {
		r, g, b := float64(rgb[3*i]), float64(rgb[3*i+1]), float64(rgb[3*i+2])
		luma[i] = 0.299*r + 0.587*g + 0.114*b
	}
	cols, rows := areaWeights(w, dhashCols), areaWeights(h, dhashRows)
	var grid [dhashRows][dhashCols]float64
	for gy, ry := range rows {
		for gx, rx := range cols {
			var s float64
			for _, y := range ry {
				for _, x := range rx {
					s += y.w * x.w * luma[y.i*w+x.i]
				}
			}
			grid[gy][gx] = s
		}
	}
	var hash uint64
	for y := range dhashRows {
		for x := range dhashCols - 1 {
			hash <<= 1
			if grid[y][x]+dhashMargin < grid[y][x+1] {
				hash |= 1
			}
		}
	}
	return hash
}

// HashDistance is the Hamming distance of two difference hashes: the
// number of bits (0..64) in which they differ.
func HashDistance(a, b uint64) int { return bits.OnesCount64(a ^ b) }

// weight is the share of source pixel i in one cell of a grid.
type weight struct {
	i int
	w float64
}

// areaWeights splits n source pixels into cells equal areas: for each
// cell, the pixels it covers with the fraction of the cell each covers
// (summing to 1). Fewer pixels than cells repeat pixels across cells.
func areaWeights(n, cells int) [][]weight {
	out := make([][]weight, cells)
	span := float64(n) / float64(cells)
	for c := range cells {
		lo, hi := float64(c)*span, float64(c+1)*span
		for i := int(lo); i < n && float64(i) < hi; i++ {
			cover := math.Min(hi, float64(i+1)) - math.Max(lo, float64(i))
			if cover > 0 {
				out[c] = append(out[c], weight{i: i, w: cover / span})
			}
		}
	}
	return out
}
