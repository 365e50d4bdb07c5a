package cover

import "time"

// Manifest names the current version of a book's cover and describes its original.
type Manifest struct {
	BookID      string    `json:"book_id"`
	Version     string    `json:"version"`
	SourceURL   string    `json:"source_url,omitempty"`
	ContentType string    `json:"content_type"`
	Width       int       `json:"width"`
	Height      int       `json:"height"`
	Bytes       int64     `json:"bytes"`
	UpdatedAt   time.Time `json:"updated_at"` // when this replica stored it (whole seconds): Last-Modified
	// VersionTime orders the covers of one book: the time of the event or
	// request that named this original (see OrderTime). Zero in manifests
	// written before it existed; Order falls back to UpdatedAt for those.
	VersionTime time.Time `json:"version_time,omitzero"`
	// DominantColor ("#rrggbb") and BlurHash describe the picture for a
	// page to paint before it arrives, computed once at ingest from the
	// decode that checked the original (transform.Traits). Empty in
	// manifests written before they existed.
	DominantColor string `json:"dominant_color,omitempty"`
	BlurHash      string `json:"blurhash,omitempty"`

	// Stored by content (content.go). Content is the full SHA-256 of the
	// original: its objects and variants are shared with every book of the
	// same bytes. Empty in manifests written before it existed, which keep
	// their per-book keys. Trim is the box of the upright original every
	// render crops to first (TRIM_BORDERS at the time it was stored); zero
	// for none.
	Content string `json:"content,omitempty"`
	Trim    Rect   `json:"trim,omitzero"`
}

// OrderTime normalises the time that orders a book's covers: UTC with
// microsecond precision, PostgreSQL's, so that the manifest and the catalog
// row compare exactly the same instants.
func OrderTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Order is the time that orders m against the book's other covers: its
// VersionTime, or UpdatedAt for a manifest written before VersionTime existed.
func (m Manifest) Order() time.Time {
	if m.VersionTime.IsZero() {
		return m.UpdatedAt
	}
	return m.VersionTime
}

// Supersedes reports whether m may replace cur as the book's current cover:
// its order time is later. At an equal time cur stays (the first writer
// wins), so replaying an event, or racing one with the same time, never
// changes the cover.
func (m Manifest) Supersedes(cur Manifest) bool { return m.Order().After(cur.Order()) }
