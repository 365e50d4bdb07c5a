package proxy

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
)

// Header values that never change are built once and shared by every
// response: net/http only reads them, and a one-element slice has no spare
// capacity, so an Add elsewhere would copy instead of writing into it.
var (
	nosniffValue = []string{"nosniff"}
	// imageTypeValues are the Content-Type values of the output formats.
	imageTypeValues = func() map[string][]string {
		m := map[string][]string{}
		for _, f := range cover.Formats() {
			m[f.ContentType()] = []string{f.ContentType()}
		}
		return m
	}()
)

// headerConsts are the Cache-Control values that depend only on Config.
type headerConsts struct {
	immutable   []string // a current v
	unversioned []string // no v, or a v that is no longer current
	placeholder []string
}

func (h *handlers) headerConsts() *headerConsts {
	h.constOnce.Do(func() {
		h.consts = headerConsts{
			immutable: []string{"public, max-age=" + strconv.FormatInt(365*24*3600, 10) + ", immutable"},
			unversioned: []string{"public, max-age=" + strconv.FormatInt(int64(h.cfg.MaxAge.Seconds()), 10) +
				", stale-while-revalidate=" + strconv.FormatInt(int64(h.cfg.StaleWhile.Seconds()), 10)},
			placeholder: []string{"public, max-age=" + strconv.FormatInt(int64(h.cfg.PlaceholderAge.Seconds()), 10)},
		}
	})
	return &h.consts
}

// lastModified remembers the formatted Last-Modified of recently seen
// times (a direct-mapped memo keyed by the second): formatting a date costs
// more than the rest of a hit's headers together.
type lastModified struct {
	slots [256]atomic.Pointer[lastModifiedEntry]
}

type lastModifiedEntry struct {
	unix  int64
	value []string
}

func (l *lastModified) value(t time.Time) []string {
	u := t.Unix()
	slot := &l.slots[uint64(u)%uint64(len(l.slots))]
	if e := slot.Load(); e != nil && e.unix == u {
		return e.value
	}
	e := &lastModifiedEntry{unix: u, value: []string{t.UTC().Format(http.TimeFormat)}}
	slot.Store(e)
	return e.value
}

// contentTypeValue returns the shared Content-Type value of an image type.
func contentTypeValue(ct string) []string {
	if v, ok := imageTypeValues[ct]; ok {
		return v
	}
	return []string{ct}
}

// setBookKeys tags a response with its book so a CDN can purge one book.
func setBookKeys(hd http.Header, bookID string) {
	v := []string{"book-" + bookID}
	hd["Surrogate-Key"] = v
	hd["Cache-Tag"] = v
}

// writeBody writes a body with validators (a strong ETag of its bytes),
// answering conditional requests with 304 and HEAD without a body.
func writeBody(w http.ResponseWriter, r *http.Request, body []byte, contentType string, modified time.Time) {
	var lastMod []string
	if !modified.IsZero() {
		lastMod = []string{modified.UTC().Format(http.TimeFormat)}
	}
	writeTagged(w, r, body, cache.Tag(body), contentType, modified, lastMod)
}

// writeVariant is writeBody for a cached variant whose tag is known, with
// the Last-Modified value memoised.
func (h *handlers) writeVariant(w http.ResponseWriter, r *http.Request, v cache.Variant, contentType string, modified time.Time) {
	var lastMod []string
	if !modified.IsZero() {
		lastMod = h.lastMod.value(modified)
	}
	writeTagged(w, r, v.Bytes, v.Tag, contentType, modified, lastMod)
}

func writeTagged(w http.ResponseWriter, r *http.Request, body []byte, tag, contentType string, modified time.Time, lastMod []string) {
	hd := w.Header()
	hd["Etag"] = []string{tag}
	hd["X-Content-Type-Options"] = nosniffValue
	if lastMod != nil {
		hd["Last-Modified"] = lastMod
	}
	if notModified(r, tag, modified) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd["Content-Type"] = contentTypeValue(contentType)
	hd["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// notModified follows RFC 9110: If-None-Match wins over If-Modified-Since.
func notModified(r *http.Request, tag string, modified time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		return etagMatches(inm, tag)
	}
	ims := r.Header.Get("If-Modified-Since")
	if ims == "" || modified.IsZero() {
		return false
	}
	t, err := http.ParseTime(ims)
	return err == nil && !modified.Truncate(time.Second).After(t)
}

// etagMatches applies the weak comparison of If-None-Match to a list.
func etagMatches(header, tag string) bool {
	for part := range strings.SplitSeq(header, ",") {
		part = strings.TrimSpace(part)
		if part == "*" || strings.TrimPrefix(part, "W/") == tag {
			return true
		}
	}
	return false
}
