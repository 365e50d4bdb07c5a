package cache

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalidBookID reports a book id outside the public grammar.
var ErrInvalidBookID = errors.New("cache: invalid book id")

// MaxBookIDLength is the longest accepted book id.
const MaxBookIDLength = 128

// ValidBookID checks the book id grammar shared by every entry point:
// 1-128 characters of [A-Za-z0-9._-], not starting with '.'. The grammar
// lives here because every object key is built from it: an id that passes
// can never escape its prefix in the store.
func ValidBookID(id string) error {
	if id == "" || len(id) > MaxBookIDLength {
		return fmt.Errorf("validate book id: length %d not in 1..%d: %w", len(id), MaxBookIDLength, ErrInvalidBookID)
	}
	if id[0] == '.' {
		return fmt.Errorf("validate book id: leading dot: %w", ErrInvalidBookID)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return fmt.Errorf("validate book id: byte %d not allowed: %w", i, ErrInvalidBookID)
		}
	}
	return nil
}

// Object store layout. Every key of the service is built by these functions.
const (
	originalsPrefix = "originals/"
	variantsPrefix  = "variants/"
	manifestsPrefix = "manifests/"
	jobsPrefix      = "jobs/"
	openJobsPrefix  = "jobs-open/"
	jobOwnersPrefix = "jobs-owners/"
	metaPrefix      = "meta/"
	outboxPrefix    = "outbox/"
)

// OriginalKey is where the original of one version of a book is stored.
func OriginalKey(bookID, version string) string {
	return originalsPrefix + bookID + "/" + version
}

// ManifestKey is where the manifest naming a book's current version is stored.
func ManifestKey(bookID string) string { return manifestsPrefix + bookID + ".json" }

// JobKey is where a job record is stored.
func JobKey(jobID string) string { return jobsPrefix + jobID }

// JobsPrefix is the prefix of finished job records. Nothing lists it: its
// records expire by the store's lifecycle rule (Expirer).
func JobsPrefix() string { return jobsPrefix }

// OpenJobKey is where a queued or running job's record lives until it
// finishes: the index of open jobs is this prefix.
func OpenJobKey(jobID string) string { return openJobsPrefix + jobID }

// OpenJobsPrefix is the prefix of open job records.
func OpenJobsPrefix() string { return openJobsPrefix }

// JobOwnerKey is the heartbeat of one job-queue process (its lease).
func JobOwnerKey(owner string) string { return jobOwnersPrefix + owner }

// JobOwnersPrefix is the prefix of the heartbeats.
func JobOwnersPrefix() string { return jobOwnersPrefix }

// OutboxKey is where one queued write-back (an outbox entry) is stored.
func OutboxKey(id string) string { return outboxPrefix + id + ".json" }

// OutboxPrefix is the prefix under which every outbox entry lives.
func OutboxPrefix() string { return outboxPrefix }

// MetaKey is where the metadata (dominant colour, blurhash, LQIP) of one
// version of a book is stored, beside its manifest.
func MetaKey(bookID, version string) string { return metaPrefix + bookID + "/" + version + ".json" }

// BookPrefixes lists every prefix or key that holds data of one book: the
// prefixes first, the manifest key last.
func BookPrefixes(bookID string) []string {
	return []string{originalsPrefix + bookID + "/", variantsPrefix + bookID + "/", metaPrefix + bookID + "/", ManifestKey(bookID)}
}

// VariantKey names one rendered variant. It is immutable: a version is the
// content hash of the original, so the bytes behind a key never change. Its
// size is the size the render gives, already clamped to the original by the
// caller (renders never enlarge), so requests with one output share one key.
type VariantKey struct {
	BookID  string
	Version string
	Width   int    // target width
	Height  int    // 0 keeps the aspect ratio; otherwise the box height
	Format  string // "webp" or "avif"
}

// Size is the canonical size: "320" (width) or "320x480" (box).
func (k VariantKey) Size() string {
	if k.Height == 0 {
		return strconv.Itoa(k.Width)
	}
	return strconv.Itoa(k.Width) + "x" + strconv.Itoa(k.Height)
}

// String is the groupcache key: "book/version/size.format".
func (k VariantKey) String() string {
	return k.BookID + "/" + k.Version + "/" + k.Size() + "." + k.Format
}

// StoreKey is the object store key of the variant.
func (k VariantKey) StoreKey() string { return variantsPrefix + k.String() }

// ParseVariantKey is the inverse of VariantKey.String.
func ParseVariantKey(s string) (VariantKey, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return VariantKey{}, fmt.Errorf("parse variant key %q: %w", s, ErrInvalidKey)
	}
	size, format, ok := strings.Cut(parts[2], ".")
	if !ok || size == "" || format == "" || parts[1] == "" {
		return VariantKey{}, fmt.Errorf("parse variant key %q: %w", s, ErrInvalidKey)
	}
	if err := ValidBookID(parts[0]); err != nil {
		return VariantKey{}, fmt.Errorf("parse variant key: %w", err)
	}
	key := VariantKey{BookID: parts[0], Version: parts[1], Format: format}
	var err error
	ws, hs, box := strings.Cut(size, "x")
	if key.Width, err = strconv.Atoi(ws); err != nil || key.Width <= 0 {
		return VariantKey{}, fmt.Errorf("parse variant key %q: width: %w", s, ErrInvalidKey)
	}
	if box {
		if key.Height, err = strconv.Atoi(hs); err != nil || key.Height <= 0 {
			return VariantKey{}, fmt.Errorf("parse variant key %q: height: %w", s, ErrInvalidKey)
		}
	}
	if key.String() != s {
		return VariantKey{}, fmt.Errorf("parse variant key %q: not canonical: %w", s, ErrInvalidKey)
	}
	return key, nil
}

// StorageURL names an object for other systems: s3://{bucket}/{key}. The
// embedded local store uses the same form with IMAGE_STORAGE_BUCKET.
func StorageURL(bucket, key string) string { return "s3://" + bucket + "/" + key }
