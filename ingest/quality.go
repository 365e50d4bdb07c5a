package ingest

// Cover quality: telling a publisher's "no image" picture from a cover
// before it becomes a book's cover (README "Cover quality").

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/VictoriaMetrics/metrics"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/transform"
)

// ErrPlaceholder is wrapped by every PlaceholderError: the original decodes
// but is not a cover. Final, never retried.
var ErrPlaceholder = cover.NewError(cover.CodePlaceholderImage, "ingest: placeholder image")

// PlaceholderReason is the stable reason of a refused placeholder, carried
// in the job record, the result event and the backfill summary.
type PlaceholderReason string

// Placeholder reasons.
const (
	ReasonTiny    PlaceholderReason = "tiny"    // a side under MinSide pixels, or fewer than MinBytes bytes
	ReasonUniform PlaceholderReason = "uniform" // the sample varies less than MinDeviation
	ReasonKnown   PlaceholderReason = "known"   // one of the reference pictures, or a copy of one
	ReasonAspect  PlaceholderReason = "aspect"  // width/height outside AspectMin..AspectMax
)

// PlaceholderReasons lists every reason, in the order the rules are tried.
func PlaceholderReasons() []PlaceholderReason {
	return []PlaceholderReason{ReasonTiny, ReasonKnown, ReasonUniform, ReasonAspect}
}

// PlaceholderError is the refusal of an original that is a placeholder:
// why (Reason, stable) and what was measured (Detail, for the log). It
// wraps ErrPlaceholder; find it with errors.As.
type PlaceholderError struct {
	Reason PlaceholderReason
	Detail string
}

func (e *PlaceholderError) Error() string {
	return "placeholder image (" + string(e.Reason) + "): " + e.Detail
}

func (e *PlaceholderError) Unwrap() error { return ErrPlaceholder }

// PlaceholderReasonOf is the reason of a refused placeholder in err's
// chain, and false when there is none.
func PlaceholderReasonOf(err error) (PlaceholderReason, bool) {
	var pe *PlaceholderError
	if errors.As(err, &pe) {
		return pe.Reason, true
	}
	return "", false
}

// PlaceholderConfig sets the rules. A zero threshold turns its rule off.
type PlaceholderConfig struct {
	// MinSide (PLACEHOLDER_MIN_SIDE, 32): an original whose upright width or
	// height is under it is tiny.
	MinSide int
	// MinBytes (PLACEHOLDER_MIN_BYTES, 1024): an original of fewer bytes is
	// tiny.
	MinBytes int64
	// MinDeviation (PLACEHOLDER_MIN_DEVIATION, 4): an original whose
	// 32-px-wide sample varies less than this many levels
	// (transform.Traits.Deviation) is uniform. The real covers of the test
	// corpus vary by 41.7 levels and more.
	MinDeviation float64
	// ReferencesDir (PLACEHOLDER_REFERENCES_DIR, empty: no references)
	// holds pictures known to be placeholders, hashed at start-up
	// (LoadReferences).
	ReferencesDir string
	// HashDistance (PLACEHOLDER_HASH_DISTANCE, 10, at most 32): an original
	// whose difference hash is within this many bits of a reference's, and
	// whose deviation is within a quarter of the reference's, is that
	// reference; 0 keeps only the exact match of the bytes (SHA-256).
	HashDistance int
	// AspectMin and AspectMax (PLACEHOLDER_ASPECT_RANGE, "MIN-MAX" of
	// width/height; empty, the default, turns the rule off): an original
	// whose upright aspect is outside them is refused.
	AspectMin, AspectMax float64
}

// DefaultPlaceholderConfig returns the defaults: tiny, uniform and (once
// references are given) known on; aspect off.
func DefaultPlaceholderConfig() PlaceholderConfig {
	return PlaceholderConfig{MinSide: 32, MinBytes: 1024, MinDeviation: 4, HashDistance: 10}
}

// maxHashDistance bounds PLACEHOLDER_HASH_DISTANCE: half the bits of a
// hash differ between unrelated pictures.
const maxHashDistance = 32

// Validate names every problem, by environment variable.
func (c PlaceholderConfig) Validate() error {
	var errs []error
	if c.MinSide < 0 {
		errs = append(errs, fmt.Errorf("PLACEHOLDER_MIN_SIDE=%d: must not be negative", c.MinSide))
	}
	if c.MinBytes < 0 {
		errs = append(errs, fmt.Errorf("PLACEHOLDER_MIN_BYTES=%d: must not be negative", c.MinBytes))
	}
	if c.MinDeviation < 0 || c.MinDeviation > 128 {
		errs = append(errs, fmt.Errorf("PLACEHOLDER_MIN_DEVIATION=%g: must be 0..128 levels", c.MinDeviation))
	}
	if c.HashDistance < 0 || c.HashDistance > maxHashDistance {
		errs = append(errs, fmt.Errorf("PLACEHOLDER_HASH_DISTANCE=%d: must be 0..%d bits", c.HashDistance, maxHashDistance))
	}
	if c.aspectOn() && !(c.AspectMin > 0 && c.AspectMin < c.AspectMax) {
		errs = append(errs, fmt.Errorf("PLACEHOLDER_ASPECT_RANGE=%g-%g: want 0 < MIN < MAX", c.AspectMin, c.AspectMax))
	}
	return errors.Join(errs...)
}

func (c PlaceholderConfig) aspectOn() bool { return c.AspectMin != 0 || c.AspectMax != 0 }

// ParseAspectRange parses PLACEHOLDER_ASPECT_RANGE: "MIN-MAX", the
// narrowest and the widest width/height an original may have ("0.4-1.0");
// empty is off (0, 0).
func ParseAspectRange(s string) (lo, hi float64, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(s, "-")
	if ok {
		lo, err = strconv.ParseFloat(strings.TrimSpace(a), 64)
	}
	if ok && err == nil {
		hi, err = strconv.ParseFloat(strings.TrimSpace(b), 64)
	}
	if !ok || err != nil || !(lo > 0 && lo < hi) {
		return 0, 0, fmt.Errorf("PLACEHOLDER_ASPECT_RANGE=%q: want MIN-MAX of width/height with 0 < MIN < MAX, such as 0.4-1.0", s)
	}
	return lo, hi, nil
}

// Reference is a picture known to be a placeholder.
type Reference struct {
	Name      string // its file name, for the log and Detail
	SHA256    [32]byte
	DHash     uint64  // transform.Traits.DHash
	Deviation float64 // transform.Traits.Deviation
	Hashed    bool    // DHash and Deviation are known (the check decoded it)
}

// PlaceholderRules classifies originals by the rules of its config. It is safe
// for concurrent use.
type PlaceholderRules struct {
	cfg     PlaceholderConfig
	refs    []Reference
	bySHA   map[[32]byte]string
	set     *metrics.Set
	refused map[PlaceholderReason]*metrics.Counter
}

// NewPlaceholderRules returns a classifier with the rules of cfg and the
// reference pictures refs (LoadReferences).
//
// Metric: covers_ingest_placeholders_refused_total{reason="tiny|uniform|known|aspect"}.
func NewPlaceholderRules(cfg PlaceholderConfig, refs []Reference) (*PlaceholderRules, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	set := metrics.NewSet()
	p := &PlaceholderRules{cfg: cfg, refs: refs, bySHA: map[[32]byte]string{}, set: set, refused: map[PlaceholderReason]*metrics.Counter{}}
	for _, r := range refs {
		p.bySHA[r.SHA256] = r.Name
	}
	for _, r := range PlaceholderReasons() {
		p.refused[r] = set.NewCounter(fmt.Sprintf(`covers_ingest_placeholders_refused_total{reason=%q}`, r))
	}
	return p, nil
}

// Metrics returns the classifier's metrics.
func (p *PlaceholderRules) Metrics() *metrics.Set { return p.set }

// References is the number of reference pictures.
func (p *PlaceholderRules) References() int { return len(p.refs) }

// knownDeviationRatio bounds how far an original's deviation may be from a
// reference's for their hashes to be compared: a picture with few edges
// has few bits set, so a plain low-contrast cover would otherwise sit within
// a few bits of any reference with few edges. Copies of a picture rescaled
// and saved as JPEG (quality 30 to 95) vary by under 4%.
const knownDeviationRatio = 1.25

// Classify returns a *PlaceholderError when the original (its bytes and
// what the check learnt of it) is a placeholder, else nil. The rules are
// tried in the order of PlaceholderReasons; an original the check did not
// decode (no Traits) is judged by its header and bytes only.
func (p *PlaceholderRules) Classify(original []byte, c transform.Checked) error {
	err := p.classify(original, c)
	if pe := (*PlaceholderError)(nil); errors.As(err, &pe) {
		p.refused[pe.Reason].Inc()
	}
	return err
}

func (p *PlaceholderRules) classify(original []byte, c transform.Checked) error {
	w, h := c.DisplaySize()
	switch {
	case p.cfg.MinBytes > 0 && int64(len(original)) < p.cfg.MinBytes:
		return &PlaceholderError{ReasonTiny, fmt.Sprintf("%d bytes, under %d", len(original), p.cfg.MinBytes)}
	case p.cfg.MinSide > 0 && (w < p.cfg.MinSide || h < p.cfg.MinSide):
		return &PlaceholderError{ReasonTiny, fmt.Sprintf("%dx%d px, a side under %d", w, h, p.cfg.MinSide)}
	}
	if len(p.refs) > 0 {
		if name, ok := p.bySHA[sha256.Sum256(original)]; ok {
			return &PlaceholderError{ReasonKnown, "the bytes of reference " + name}
		}
	}
	t := c.Traits
	if t != nil && p.cfg.HashDistance > 0 {
		for _, r := range p.refs {
			if !r.Hashed || t.Deviation > r.Deviation*knownDeviationRatio || t.Deviation*knownDeviationRatio < r.Deviation {
				continue
			}
			if d := transform.HashDistance(t.DHash, r.DHash); d <= p.cfg.HashDistance {
				return &PlaceholderError{ReasonKnown, fmt.Sprintf("reference %s, hash %d bits away", r.Name, d)}
			}
		}
	}
	if t != nil && p.cfg.MinDeviation > 0 && t.Deviation < p.cfg.MinDeviation {
		return &PlaceholderError{ReasonUniform, fmt.Sprintf("deviation %.2f, under %g", t.Deviation, p.cfg.MinDeviation)}
	}
	if p.cfg.aspectOn() && h > 0 {
		if a := float64(w) / float64(h); a < p.cfg.AspectMin || a > p.cfg.AspectMax {
			return &PlaceholderError{ReasonAspect, fmt.Sprintf("aspect %.3f (%dx%d), outside %g-%g", a, w, h, p.cfg.AspectMin, p.cfg.AspectMax)}
		}
	}
	return nil
}
