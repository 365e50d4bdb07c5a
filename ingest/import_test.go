package ingest

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
)

func TestReadFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "cover.jpg")
	if err := os.WriteFile(path, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	f, err := ReadFile(path, 10)
	if err != nil || f.Path != path || string(f.Data) != "0123456789" || f.ReadAt.Before(before) || f.ReadAt.After(time.Now()) {
		t.Errorf("ReadFile(10 bytes, max 10) = %+v, %v; want the file, read now", f, err)
	}
	_, err = ReadFile(path, 9)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "import "+path+": 10 bytes") {
		t.Errorf("ReadFile(10 bytes, max 9) = %v, want ErrTooLarge naming the file and its size", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.jpg"), 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(a missing file) = %v, want fs.ErrNotExist", err)
	}
}

// TestImport: a file is stored under its content's version with the
// source "import:" and its base name; an older file than the book's cover
// is not imported and the newer cover stays; a refused original names its
// code.
func TestImport(t *testing.T) {
	t.Parallel()
	store := newLocalTestStore(t)
	manifests := cache.NewManifests(store, time.Minute, 5*time.Second)
	w := NewWarmer(nil, store, manifests, acceptAll{}, slog.New(slog.DiscardHandler))
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	f := File{Path: "/srv/uploads/cover.jpg", Data: []byte("cover one"), ReadAt: t0}
	m, imported, err := w.Import(t.Context(), "B1", f)
	if err != nil || !imported || m.Version != Version(f.Data) || m.SourceURL != "import:cover.jpg" {
		t.Fatalf("Import = %+v, %v, %v; want imported as version %s from import:cover.jpg", m, imported, err, Version(f.Data))
	}
	older := File{Path: "/srv/uploads/old.jpg", Data: []byte("cover zero"), ReadAt: t0.Add(-time.Hour)}
	m, imported, err = w.Import(t.Context(), "B1", older)
	if err != nil || imported || m.Version != Version(f.Data) {
		t.Errorf("Import of an older file = %+v, %v, %v; want not imported, the newer version %s kept", m, imported, err, Version(f.Data))
	}
	_, imported, err = w.Import(t.Context(), "bad/id", f)
	if code := Code(err); imported || code != cover.CodeInvalidBookID || !strings.HasPrefix(err.Error(), "import /srv/uploads/cover.jpg (invalid_book_id): ") {
		t.Errorf("Import under a bad book id = %v, %v (code %s); want refused, naming the file and the code", imported, err, code)
	}
}
