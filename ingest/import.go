package ingest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/bookcovers/image-worker/cover"
)

// File is an original read from a local file (image-worker import).
type File struct {
	Path string
	Data []byte
	// ReadAt orders the file against the book's other covers: a newer
	// event or request that got there first keeps its cover.
	ReadAt time.Time
}

// ReadFile reads the original at path, refusing a file over maxBytes
// (ErrTooLarge) before reading it.
func ReadFile(path string, maxBytes int64) (File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return File{}, err
	}
	if st.Size() > maxBytes {
		return File{}, fmt.Errorf("import %s: %d bytes: %w", path, st.Size(), ErrTooLarge)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return File{}, err
	}
	return File{Path: path, Data: data, ReadAt: time.Now()}, nil
}

// Import stores f as bookID's original through the same validation as POST
// /process (Store). Its source is recorded as "import:" and the file's
// name, without the directory: it shows in metadata and result events.
// imported is false when the book holds a newer cover, which m is then.
func (w *Warmer) Import(ctx context.Context, bookID string, f File) (m cover.Manifest, imported bool, err error) {
	m, err = w.Store(ctx, bookID, "import:"+filepath.Base(f.Path), f.Data, f.ReadAt)
	if err != nil {
		return m, false, fmt.Errorf("import %s (%s): %w", f.Path, Code(err), err)
	}
	return m, m.Version == Version(f.Data), nil
}
