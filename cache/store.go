package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/VictoriaMetrics/metrics"

	"github.com/bookcovers/image-worker/cover"
)

// Store errors. Every error a Store returns wraps at most one of these (plus
// context.Canceled when the caller gave up), so callers branch with errors.Is.
// ErrUnavailable and ErrTimeout name their cover.Code (storage_unavailable,
// storage_timeout); a missing key names none: what it means is the caller's.
var (
	// ErrNotFound reports a missing key.
	ErrNotFound = errors.New("store: not found")
	// ErrUnavailable reports that the store's dependency is down: connection
	// refused or reset, a 5xx from S3, a DNS failure, a missing bucket.
	ErrUnavailable = cover.NewError(cover.CodeStorageUnavailable, "store: unavailable")
	// ErrTimeout reports that the operation ran out of time talking to the store.
	ErrTimeout = cover.NewError(cover.CodeStorageTimeout, "store: timeout")
	// ErrInvalidKey reports a key that no store accepts (see ValidKey).
	ErrInvalidKey = errors.New("store: invalid key")
	// ErrInvalidContentType reports a content type with control characters
	// or longer than 255 bytes.
	ErrInvalidContentType = errors.New("store: invalid content type")
	// ErrPrecondition reports a conditional Put whose condition did not
	// hold: the object changed (If-Match) or already exists (If-None-Match).
	ErrPrecondition = errors.New("store: precondition failed")
)

// MaxKeyLength is the longest accepted key in bytes (the S3 limit).
const MaxKeyLength = 1024

// DefaultContentType is what Get reports for an object put without one.
const DefaultContentType = "application/octet-stream"

// maxContentTypeLength bounds the content type kept with an object.
const maxContentTypeLength = 255

// Object is one stored blob with its metadata.
type Object struct {
	Data        []byte
	ContentType string
	ModTime     time.Time
	Size        int64
	// ETag identifies this content of the object; PutIf compares it.
	ETag string
}

// Condition makes a Put conditional, the way S3's If-Match and
// If-None-Match headers on PUT do: compare-and-swap without a lock service.
type Condition struct {
	// IfMatch replaces the object only while its ETag is this one.
	IfMatch string
	// IfNoneMatch creates the object only if the key does not exist.
	IfNoneMatch bool
}

// valid reports whether exactly one condition is set.
func (c Condition) valid() error {
	if (c.IfMatch == "") == !c.IfNoneMatch {
		return errors.New("store put: a condition needs exactly one of IfMatch and IfNoneMatch")
	}
	return nil
}

// Store is a flat key/value blob store: MinIO/S3 in production, a local
// directory for development. Keys are '/'-separated paths checked by ValidKey.
type Store interface {
	// Get returns the object, or an error wrapping ErrNotFound when missing.
	Get(ctx context.Context, key string) (Object, error)
	// Stat is Get without the data (a HEAD): the object's metadata, or an
	// error wrapping ErrNotFound when missing.
	Stat(ctx context.Context, key string) (Object, error)
	// Put stores data atomically: readers see the old or the new object, never
	// a partial one. An empty contentType is stored as DefaultContentType.
	Put(ctx context.Context, key string, data []byte, contentType string) error
	// Delete removes the key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// PutIf is Put under a condition and returns the new object's ETag;
	// when the condition does not hold the error wraps ErrPrecondition and
	// nothing is written. Two writers racing on one key with the same
	// condition: exactly one succeeds.
	PutIf(ctx context.Context, key string, data []byte, contentType string, cond Condition) (string, error)
	// List returns every key starting with prefix, recursively, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// ListPage returns at most limit keys starting with prefix that sort
	// after the key after ("" for the first page), sorted. A page shorter
	// than limit is the last.
	ListPage(ctx context.Context, prefix, after string, limit int) ([]string, error)
	// Ping reports whether the bucket or directory is reachable.
	Ping(ctx context.Context) error
}

// Expirer is a Store that removes old objects by itself: an object-store
// lifecycle rule, so expiring a prefix costs no listing by the service.
type Expirer interface {
	// ExpirePrefix makes objects under prefix go away about age after their
	// last write (S3 counts in whole days, rounded up). Calling it again
	// with the same prefix replaces the rule.
	ExpirePrefix(ctx context.Context, prefix string, age time.Duration) error
}

// ValidKey reports whether key is usable by every Store. A key is 1-1024
// bytes of valid UTF-8 without control characters or backslashes, made of
// '/'-separated segments none of which is empty, "." or "..". So it has no
// leading or trailing '/', no "//", and can never climb out of its prefix.
func ValidKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("validate key: empty: %w", ErrInvalidKey)
	case len(key) > MaxKeyLength:
		return fmt.Errorf("validate key: %d bytes, more than %d: %w", len(key), MaxKeyLength, ErrInvalidKey)
	case !utf8.ValidString(key):
		return fmt.Errorf("validate key: not UTF-8: %w", ErrInvalidKey)
	case key[0] == '/':
		return fmt.Errorf("validate key: absolute: %w", ErrInvalidKey)
	}
	for i, r := range key {
		if r == '\\' || r < 0x20 || r == 0x7f {
			return fmt.Errorf("validate key: byte %d is backslash or control character: %w", i, ErrInvalidKey)
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return fmt.Errorf("validate key: empty segment: %w", ErrInvalidKey)
		case ".", "..":
			return fmt.Errorf("validate key: %q segment: %w", seg, ErrInvalidKey)
		}
	}
	return nil
}

// validContentType rejects content types that cannot be kept as a header.
func validContentType(ct string) error {
	if len(ct) > maxContentTypeLength {
		return fmt.Errorf("validate content type: %d bytes, more than %d: %w", len(ct), maxContentTypeLength, ErrInvalidContentType)
	}
	for i := 0; i < len(ct); i++ {
		if c := ct[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("validate content type: control byte at %d: %w", i, ErrInvalidContentType)
		}
	}
	return nil
}

// ctxError classifies an error of the caller's context: a passed deadline is
// ErrTimeout, a cancellation stays context.Canceled.
func ctxError(op string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("store %s: %w: %w", op, ErrTimeout, err)
	}
	return fmt.Errorf("store %s: %w", op, err)
}

// Operation names, the values of the op label.
const (
	opGet    = "get"
	opStat   = "stat"
	opPut    = "put"
	opDelete = "delete"
	opList   = "list"
	opPing   = "ping"
)

// storeMetrics are the metrics every Store implementation exports:
//
//	covers_store_operations_total{op="get|stat|put|delete|list|ping",result="ok|not_found|precondition_failed|error"}
//	covers_store_operation_duration_seconds{op="..."}
type storeMetrics struct {
	set *metrics.Set
	ops map[string]*opMetrics
}

type opMetrics struct {
	ok, notFound, failed, precondition *metrics.Counter
	duration                           *metrics.PrometheusHistogram
}

func newStoreMetrics() *storeMetrics {
	m := &storeMetrics{set: metrics.NewSet(), ops: make(map[string]*opMetrics)}
	for _, op := range []string{opGet, opStat, opPut, opDelete, opList, opPing} {
		m.ops[op] = &opMetrics{
			ok:           m.set.NewCounter(fmt.Sprintf(`covers_store_operations_total{op=%q,result="ok"}`, op)),
			notFound:     m.set.NewCounter(fmt.Sprintf(`covers_store_operations_total{op=%q,result="not_found"}`, op)),
			failed:       m.set.NewCounter(fmt.Sprintf(`covers_store_operations_total{op=%q,result="error"}`, op)),
			precondition: m.set.NewCounter(fmt.Sprintf(`covers_store_operations_total{op=%q,result="precondition_failed"}`, op)),
			duration:     m.set.NewPrometheusHistogramExt(fmt.Sprintf(`covers_store_operation_duration_seconds{op=%q}`, op), storeBuckets),
		}
	}
	return m
}

// observe records one finished operation; it is deferred with a pointer to
// the operation's named error result.
func (m *storeMetrics) observe(op string, start time.Time, errp *error) {
	om := m.ops[op]
	om.duration.UpdateDuration(start)
	switch err := *errp; {
	case err == nil:
		om.ok.Inc()
	case errors.Is(err, ErrNotFound):
		om.notFound.Inc()
	case errors.Is(err, ErrPrecondition):
		om.precondition.Inc()
	default:
		om.failed.Inc()
	}
}

// storeBuckets are the upper bounds, in seconds, of the store operation
// histogram: a loopback MinIO answers a small GET in 0.3-1 ms, a remote one
// in a few ms, and an operation never outlives STORE_TIMEOUT (2 s) by much.
var storeBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
