package ingest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Bounds of PLACEHOLDER_REFERENCES_DIR: it is read whole at start-up.
const (
	maxReferences     = 1000
	maxReferenceBytes = 32 << 20
)

// LoadReferences reads every picture in dir (PLACEHOLDER_REFERENCES_DIR)
// and hashes it: the SHA-256 of its bytes, and, through check (one decode
// in a render worker, as an ingest does), the difference hash and the
// deviation of its pixels. Names starting with "." and subdirectories are
// skipped. A file that cannot be read or is not a usable image is an error
// naming it: a reference that silently matched nothing would let its
// placeholder through. An empty dir is no reference, not an error.
func LoadReferences(ctx context.Context, dir string, check Checker) ([]Reference, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("PLACEHOLDER_REFERENCES_DIR: %w", err)
	}
	var refs []Reference
	var errs []error
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || e.IsDir() {
			continue
		}
		if len(refs) == maxReferences {
			errs = append(errs, fmt.Errorf("PLACEHOLDER_REFERENCES_DIR %s: more than %d files", dir, maxReferences))
			break
		}
		r, err := loadReference(ctx, filepath.Join(dir, e.Name()), check)
		if err != nil {
			errs = append(errs, fmt.Errorf("PLACEHOLDER_REFERENCES_DIR: %w", err))
			continue
		}
		refs = append(refs, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return refs, nil
}

// loadReference reads and hashes one reference picture.
func loadReference(ctx context.Context, path string, check Checker) (Reference, error) {
	f, err := os.Open(path)
	if err != nil {
		return Reference{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxReferenceBytes+1))
	if err != nil {
		return Reference{}, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxReferenceBytes {
		return Reference{}, fmt.Errorf("%s: larger than %d bytes", path, maxReferenceBytes)
	}
	c, err := check.Check(ctx, data)
	if err != nil {
		return Reference{}, fmt.Errorf("%s: %w", path, err)
	}
	r := Reference{Name: filepath.Base(path), SHA256: sha256.Sum256(data)}
	if c.Traits != nil {
		r.DHash, r.Deviation, r.Hashed = c.Traits.DHash, c.Traits.Deviation, true
	}
	return r, nil
}
