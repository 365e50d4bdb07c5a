package cache

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// On-disk layout of LocalStore. A key "a/b/c" is the file "a.d/b.d/c.obj"
// under the store's directory: every directory segment gets ".d" and the last
// segment gets ".obj". The suffixes keep S3 semantics on a file system: the
// keys "a" ("a.obj") and "a/b" ("a.d/b.obj") can both exist, and no key maps
// onto a temporary file (".tmp-<hex>", which ends in neither suffix).
//
// Each object file starts with one header line holding the content type,
// "covers-store/1 <content type>\n", followed by the raw bytes. Keeping the
// metadata in the same file means one rename replaces data and content type
// together: there is no sidecar that could disagree with the data.
const (
	localDirSuffix    = ".d"
	localObjSuffix    = ".obj"
	localTmpPrefix    = ".tmp-"
	localHeaderMagic  = "covers-store/1 "
	localMaxNameBytes = 255 // NAME_MAX of common Linux file systems
	localDirPerm      = 0o750
	localFilePerm     = 0o640
)

// LocalStore is a Store in a local directory, used when no S3 endpoint is
// configured. All file access goes through an os.Root, so neither a key nor
// a symlink planted in the directory can reach a file outside it.
type LocalStore struct {
	dir     string
	root    *os.Root
	metrics *storeMetrics
}

var _ Store = (*LocalStore)(nil)

// NewLocalStore opens (creating it with mode 0750 if needed) the directory
// dir as a store.
func NewLocalStore(dir string) (*LocalStore, error) {
	if dir == "" {
		return nil, errors.New("open local store: empty directory")
	}
	if err := os.MkdirAll(dir, localDirPerm); err != nil {
		return nil, fmt.Errorf("open local store: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open local store: %w", err)
	}
	return &LocalStore{dir: dir, root: root, metrics: newStoreMetrics()}, nil
}

// Dir returns the directory the store lives in.
func (s *LocalStore) Dir() string { return s.dir }

// Metrics returns the store's metrics (see doc.go).
func (s *LocalStore) Metrics() *metrics.Set { return s.metrics.set }

// Close releases the directory handle. The store is unusable afterwards.
func (s *LocalStore) Close() error { return s.root.Close() }

// Get implements Store.
func (s *LocalStore) Get(ctx context.Context, key string) (_ Object, err error) {
	defer s.metrics.observe(opGet, time.Now(), &err)
	if err := ctx.Err(); err != nil {
		return Object{}, ctxError(opGet, err)
	}
	return s.get(key)
}

func (s *LocalStore) get(key string) (Object, error) {
	name, err := localObjectPath(key)
	if err != nil {
		return Object{}, fmt.Errorf("store get: %w", err)
	}
	f, err := s.root.Open(name)
	if err != nil {
		if isLocalNotExist(err) {
			return Object{}, fmt.Errorf("store get %s: %w", key, ErrNotFound)
		}
		return Object{}, fmt.Errorf("store get %s: %w", key, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return Object{}, fmt.Errorf("store get %s: %w", key, err)
	}
	raw, err := io.ReadAll(f)
	if err != nil {
		return Object{}, fmt.Errorf("store get %s: %w", key, err)
	}
	ct, data, err := parseLocalObject(raw)
	if err != nil {
		return Object{}, fmt.Errorf("store get %s: %w", key, err)
	}
	return Object{Data: data, ContentType: ct, ModTime: info.ModTime(), Size: int64(len(data)), ETag: localETag(ct, data)}, nil
}

// Stat implements Store. It reads the object file like Get (the content
// type and the ETag are in it) and drops the data.
func (s *LocalStore) Stat(ctx context.Context, key string) (_ Object, err error) {
	defer s.metrics.observe(opStat, time.Now(), &err)
	if err := ctx.Err(); err != nil {
		return Object{}, ctxError(opStat, err)
	}
	obj, err := s.get(key)
	obj.Data = nil
	return obj, err
}

// Put implements Store: it writes a temporary file in the object's directory,
// fsyncs it, renames it over the object and fsyncs the directory.
func (s *LocalStore) Put(ctx context.Context, key string, data []byte, contentType string) (err error) {
	defer s.metrics.observe(opPut, time.Now(), &err)
	if err := ctx.Err(); err != nil {
		return ctxError(opPut, err)
	}
	return s.put(ctx, key, data, contentType)
}

func (s *LocalStore) put(ctx context.Context, key string, data []byte, contentType string) error {
	name, err := localObjectPath(key)
	if err != nil {
		return fmt.Errorf("store put: %w", err)
	}
	if err := validContentType(contentType); err != nil {
		return fmt.Errorf("store put %s: %w", key, err)
	}
	if contentType == "" {
		contentType = DefaultContentType
	}
	dir := path.Dir(name)
	if dir != "." {
		if err := s.root.MkdirAll(dir, localDirPerm); err != nil {
			return fmt.Errorf("store put %s: %w", key, err)
		}
	}
	tmp, err := s.writeTemp(dir, contentType, data)
	if err != nil {
		return fmt.Errorf("store put %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		_ = s.root.Remove(tmp)
		return ctxError(opPut, err)
	}
	if err := s.root.Rename(tmp, name); err != nil {
		_ = s.root.Remove(tmp)
		return fmt.Errorf("store put %s: %w", key, err)
	}
	if err := s.syncDir(dir); err != nil {
		return fmt.Errorf("store put %s: %w", key, err)
	}
	return nil
}

// writeTemp writes header and data to a new temporary file in dir, fsyncs and
// closes it, and returns its name.
func (s *LocalStore) writeTemp(dir, contentType string, data []byte) (string, error) {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails
	tmp := path.Join(dir, localTmpPrefix+hex.EncodeToString(rnd[:]))
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, localFilePerm)
	if err != nil {
		return "", err
	}
	_, werr := io.WriteString(f, localHeaderMagic+contentType+"\n")
	if werr == nil {
		_, werr = f.Write(data)
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = s.root.Remove(tmp)
		return "", werr
	}
	return tmp, nil
}

// syncDir makes a rename in dir durable.
func (s *LocalStore) syncDir(dir string) error {
	d, err := s.root.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	if cerr := d.Close(); serr == nil {
		serr = cerr
	}
	return serr
}

// Delete implements Store. Emptied directories are left in place: List
// ignores them, and removing them would race with a concurrent Put.
func (s *LocalStore) Delete(ctx context.Context, key string) (err error) {
	defer s.metrics.observe(opDelete, time.Now(), &err)
	if err := ctx.Err(); err != nil {
		return ctxError(opDelete, err)
	}
	name, err := localObjectPath(key)
	if err != nil {
		return fmt.Errorf("store delete: %w", err)
	}
	if err := s.root.Remove(name); err != nil && !isLocalNotExist(err) {
		return fmt.Errorf("store delete %s: %w", key, err)
	}
	return nil
}

// List implements Store. It walks only the deepest directory the prefix
// names in full, skips temporary files and never follows symlinks.
func (s *LocalStore) List(ctx context.Context, prefix string) (_ []string, err error) {
	defer s.metrics.observe(opList, time.Now(), &err)
	if err := ctx.Err(); err != nil {
		return nil, ctxError(opList, err)
	}
	keys := []string{}
	err = s.walkObjects(ctx, prefix, func(key, _ string, _ fs.DirEntry) {
		keys = append(keys, key)
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctxError(opList, ctx.Err())
		}
		return nil, fmt.Errorf("store list %q: %w", prefix, err)
	}
	sort.Strings(keys)
	return keys, nil
}

// walkObjects calls fn for every object under prefix, with its key and
// file name. It walks only the deepest directory the prefix names in full,
// skips temporary files and never follows symlinks.
func (s *LocalStore) walkObjects(ctx context.Context, prefix string, fn func(key, name string, d fs.DirEntry)) error {
	start, ok := localListStart(prefix)
	if !ok {
		return nil // no valid key can start with this prefix
	}
	return fs.WalkDir(s.root.FS(), start, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			if name == start && isLocalNotExist(err) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if name != start && !strings.HasSuffix(name, localDirSuffix) {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(name, localObjSuffix) {
			return nil
		}
		if key := localKeyFromPath(name); strings.HasPrefix(key, prefix) {
			fn(key, name, d)
		}
		return nil
	})
}

// localListStart returns the directory to walk for prefix: the directories of
// its complete segments. ok is false when one of them cannot be part of a key.
func localListStart(prefix string) (string, bool) {
	i := strings.LastIndexByte(prefix, '/')
	if i < 0 {
		return ".", true
	}
	segs := strings.Split(prefix[:i], "/")
	for j, seg := range segs {
		if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "\\\x00") {
			return "", false
		}
		segs[j] = seg + localDirSuffix
	}
	return strings.Join(segs, "/"), true
}

// localKeyFromPath is the inverse of localObjectPath.
func localKeyFromPath(name string) string {
	segs := strings.Split(name, "/")
	for i, seg := range segs {
		if i == len(segs)-1 {
			segs[i] = strings.TrimSuffix(seg, localObjSuffix)
		} else {
			segs[i] = strings.TrimSuffix(seg, localDirSuffix)
		}
	}
	return strings.Join(segs, "/")
}

// Ping implements Store: the directory must still exist at its path.
func (s *LocalStore) Ping(ctx context.Context) (err error) {
	defer s.metrics.observe(opPing, time.Now(), &err)
	if err := ctx.Err(); err != nil {
		return ctxError(opPing, err)
	}
	opened, err := s.root.Stat(".")
	if err != nil {
		return fmt.Errorf("store ping %s: %w: %w", s.dir, ErrUnavailable, err)
	}
	// The handle keeps a removed directory alive: compare it with the path.
	current, err := os.Stat(s.dir)
	if err != nil {
		return fmt.Errorf("store ping %s: %w: %w", s.dir, ErrUnavailable, err)
	}
	if !os.SameFile(opened, current) {
		return fmt.Errorf("store ping %s: directory was removed or replaced: %w", s.dir, ErrUnavailable)
	}
	return nil
}

// localObjectPath maps a key to its slash-separated file name under the root.
func localObjectPath(key string) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", err
	}
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		suffix := localDirSuffix
		if i == len(segs)-1 {
			suffix = localObjSuffix
		}
		if len(seg)+len(suffix) > localMaxNameBytes {
			return "", fmt.Errorf("validate key: segment of %d bytes too long for a local store: %w", len(seg), ErrInvalidKey)
		}
		segs[i] = seg + suffix
	}
	return strings.Join(segs, "/"), nil
}

// isLocalNotExist reports a missing file, including "a path component is not
// a directory", which also means the key does not exist.
func isLocalNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// parseLocalObject splits an object file into content type and data.
func parseLocalObject(raw []byte) (string, []byte, error) {
	rest, ok := bytes.CutPrefix(raw, []byte(localHeaderMagic))
	if !ok {
		return "", nil, errors.New("corrupt object file: no header")
	}
	head := rest[:min(len(rest), maxContentTypeLength+1)]
	i := bytes.IndexByte(head, '\n')
	if i < 0 {
		return "", nil, errors.New("corrupt object file: unterminated header")
	}
	return string(rest[:i]), rest[i+1:], nil
}
