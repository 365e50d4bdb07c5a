package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// localLockName is the file every conditional Put of a LocalStore locks
// (flock), so compare and swap is atomic across the processes sharing the
// directory. It ends in neither object suffix, so no key maps onto it.
const localLockName = ".lock"

// localETag is the ETag of an object: a hash of its content type and
// data, so it changes with either.
func localETag(contentType string, data []byte) string {
	h := sha256.New()
	h.Write([]byte(contentType + "\n"))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// PutIf implements Store: under an exclusive lock of the directory it reads
// the object's current ETag, checks the condition and then puts as Put does.
func (s *LocalStore) PutIf(ctx context.Context, key string, data []byte, contentType string, cond Condition) (_ string, err error) {
	defer s.metrics.observe(opPut, time.Now(), &err)
	if err := cond.valid(); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", ctxError(opPut, err)
	}
	unlock, err := s.lock()
	if err != nil {
		return "", fmt.Errorf("store put %s: %w", key, err)
	}
	defer unlock()
	cur, err := s.get(key)
	switch {
	case err == nil && cond.IfNoneMatch:
		return "", fmt.Errorf("store put %s: %w (the key exists)", key, ErrPrecondition)
	case err == nil && cur.ETag != strings.Trim(cond.IfMatch, `"`):
		return "", fmt.Errorf("store put %s: %w (the object changed)", key, ErrPrecondition)
	case errors.Is(err, ErrNotFound) && cond.IfMatch != "":
		return "", fmt.Errorf("store put %s: %w (the object is gone)", key, ErrPrecondition)
	case err != nil && !errors.Is(err, ErrNotFound):
		return "", err
	}
	if contentType == "" {
		contentType = DefaultContentType
	}
	if err := s.put(ctx, key, data, contentType); err != nil {
		return "", err
	}
	return localETag(contentType, data), nil
}

// lock takes the directory's conditional-write lock; the result releases it.
func (s *LocalStore) lock() (func(), error) {
	f, err := s.root.OpenFile(localLockName, os.O_RDWR|os.O_CREATE, localFilePerm)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock: %w", err)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// ListPage implements Store over List: a local store is small enough to
// walk whole.
func (s *LocalStore) ListPage(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	if limit < 1 {
		return nil, fmt.Errorf("store list %q: limit %d: %w", prefix, limit, ErrInvalidKey)
	}
	keys, err := s.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	i := 0
	for i < len(keys) && keys[i] <= after {
		i++
	}
	keys = keys[i:]
	return keys[:min(limit, len(keys))], nil
}
