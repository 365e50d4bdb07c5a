package cache

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func newLocalTestStore(t *testing.T, dir string) *LocalStore {
	t.Helper()
	s, err := NewLocalStore(dir)
	if err != nil {
		t.Fatalf("NewLocalStore(%s) = %v", dir, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestLocalStoreConformance(t *testing.T) {
	t.Parallel()
	runStoreConformance(t, func(t *testing.T) Store { return newLocalTestStore(t, t.TempDir()) })
}

// filesUnder lists every non-directory entry below dir, slash-separated.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return files
}

func TestLocalStoreKeysCannotEscapeDir(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	dir := filepath.Join(parent, "store")
	outside := filepath.Join(parent, "outside")
	if err := os.Mkdir(outside, 0o750); err != nil {
		t.Fatal(err)
	}
	s := newLocalTestStore(t, dir)
	ctx := t.Context()

	for _, key := range []string{"../x", "../outside/x", "a/../../x", "/tmp/x", "..\\x", "a/../../../outside/y"} {
		if err := s.Put(ctx, key, []byte("escape"), "text/plain"); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
	}

	// A symlink planted inside the store that points outside must not be
	// followed, whatever the key.
	if err := os.Symlink(outside, filepath.Join(dir, "evil.d")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret.obj"), []byte(localHeaderMagic+"text/plain\nsecret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "evil/x", []byte("escape"), "text/plain"); err == nil {
		t.Errorf("Put(evil/x) through a symlink to outside = nil, want an error")
	}
	if obj, err := s.Get(ctx, "evil/secret"); err == nil {
		t.Errorf("Get(evil/secret) through a symlink = %q, want an error", obj.Data)
	}
	if keys, err := s.List(ctx, ""); err != nil || len(keys) != 0 {
		t.Errorf("List(\"\") = %q, %v; want no keys (symlinks are not followed)", keys, err)
	}

	if got := filesUnder(t, outside); !slices.Equal(got, []string{"secret.obj"}) {
		t.Errorf("files outside the store = %q, want only the planted secret.obj", got)
	}
	if got := filesUnder(t, parent); !slices.Equal(got, []string{"outside/secret.obj", "store/evil.d"}) {
		t.Errorf("files under the parent = %q, want only the planted ones", got)
	}
}

func TestLocalStoreLayout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newLocalTestStore(t, dir)
	ctx := t.Context()
	// Keys that are prefixes of others, and keys that look like the layout's
	// own suffixes, coexist without clashing (as in S3).
	keys := []string{"a", "a/b", "a.d/b", "a.obj", "a.obj/c", "x.d", "x/y.obj"}
	for _, k := range keys {
		mustPutObject(t, s, k, []byte("value of "+k), "text/plain")
	}
	for _, k := range keys {
		obj, err := s.Get(ctx, k)
		if err != nil || string(obj.Data) != "value of "+k {
			t.Errorf("Get(%q) = %q, %v; want %q", k, obj.Data, err, "value of "+k)
		}
	}
	got, err := s.List(ctx, "")
	want := slices.Sorted(slices.Values(keys))
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("List(\"\") = %q, %v; want %q", got, err, want)
	}
	// Only object files and their directories: no temporary file survives.
	for _, f := range filesUnder(t, dir) {
		if !strings.HasSuffix(f, localObjSuffix) {
			t.Errorf("file %s left in the store, want only *%s files", f, localObjSuffix)
		}
	}
	info, err := os.Stat(filepath.Join(dir, "a.obj"))
	if err != nil || info.Mode().Perm() != localFilePerm {
		t.Errorf("object file mode = %v, %v; want %v", info.Mode().Perm(), err, os.FileMode(localFilePerm))
	}
}

func TestLocalStoreListSkipsForeignFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newLocalTestStore(t, dir)
	mustPutObject(t, s, "p/k", []byte("x"), "text/plain")
	// A temporary file left by a crash, and files someone else dropped here.
	for name, data := range map[string]string{
		"p.d/.tmp-0123456789abcdef": localHeaderMagic + "text/plain\npartial",
		"p.d/notes.txt":             "hello",
		"plain/k.obj":               localHeaderMagic + "text/plain\nx",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.List(t.Context(), "")
	if err != nil || !slices.Equal(got, []string{"p/k"}) {
		t.Errorf("List(\"\") = %q, %v; want [p/k]", got, err)
	}
}

func TestLocalStoreCorruptObject(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newLocalTestStore(t, dir)
	tests := []struct{ name, content string }{
		{"no header", "\xff\xd8\xff raw jpeg bytes"},
		{"unterminated header", localHeaderMagic + strings.Repeat("x", 300)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := strings.ReplaceAll(tc.name, " ", "-")
			if err := os.WriteFile(filepath.Join(dir, key+localObjSuffix), []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := s.Get(t.Context(), key)
			if err == nil || errors.Is(err, ErrNotFound) {
				t.Errorf("Get(%q) of a corrupt file = %v, want an error other than ErrNotFound", key, err)
			}
		})
	}
}

func TestLocalStorePingAfterDirRemoved(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "store")
	s := newLocalTestStore(t, dir)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping = %v, want nil", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Ping after removing the directory = %v, want ErrUnavailable", err)
	}
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Ping after replacing the directory = %v, want ErrUnavailable", err)
	}
}

func TestNewLocalStore(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	file := filepath.Join(base, "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		dir     string
		wantErr bool
	}{
		{"creates nested dir", filepath.Join(base, "x", "y"), false},
		{"existing dir", base, false},
		{"empty path", "", true},
		{"path is a file", file, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewLocalStore(tc.dir)
			if (err != nil) != tc.wantErr {
				t.Fatalf("NewLocalStore(%q) error = %v, want error %v", tc.dir, err, tc.wantErr)
			}
			if err != nil {
				return
			}
			defer s.Close()
			info, err := os.Stat(tc.dir)
			if err != nil || !info.IsDir() {
				t.Fatalf("Stat(%q) = %v; want a directory", tc.dir, err)
			}
			if tc.dir != base && info.Mode().Perm() != localDirPerm {
				t.Errorf("created dir mode = %v, want %v", info.Mode().Perm(), os.FileMode(localDirPerm))
			}
		})
	}
}
