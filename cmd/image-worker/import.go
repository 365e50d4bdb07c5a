package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/bookcovers/image-worker/ingest"
)

// importCmd stores a local file as a book's original through the same
// validation as POST /process: image-worker import --book B123 cover.jpg
func importCmd(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	book := fs.String("book", "", "book id (required)")
	pos, err := parseArgs(fs, args, usageOf("import"), stdout)
	if err != nil {
		return err
	}
	if *book == "" || len(pos) != 1 {
		return usageError(usageOf("import"))
	}
	cfg, err := loadStoreConfig(lookup)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	logger := newLogger(stderr, cfg.LogLevel)
	path := pos[0]
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Size() > cfg.Fetch.MaxBytes {
		return fmt.Errorf("import %s: %d bytes: %w", path, st.Size(), ingest.ErrTooLarge)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	// The file orders against the book's other covers by when it was read:
	// a newer event or request that got there first keeps its cover.
	readAt := time.Now()
	// The write-back (catalog, result event) is queued in the store's
	// outbox; a serving replica delivers it. Its variants are left to the
	// first request.
	p, err := assemble(ctx, cfg, logger, assembly{prerender: prerenderNever})
	if err != nil {
		return err
	}
	defer p.close()
	// The source is recorded without the server's directory layout: it is
	// shown in metadata and result events.
	m, err := p.warmer.Store(ctx, *book, "import:"+filepath.Base(path), data, readAt)
	if err != nil {
		return fmt.Errorf("import %s (%s): %w", path, ingest.Code(err), err)
	}
	if m.Version != ingest.Version(data) {
		fmt.Fprintf(stdout, "not imported %s: book %s holds a newer cover, version %s\n", path, m.BookID, m.Version)
		return nil
	}
	if err := recordWriteBack(ctx, p.outbox, m); err != nil {
		return fmt.Errorf("import %s: %w (run the import again)", path, err)
	}
	fmt.Fprintf(stdout, "imported %s as book %s version %s (%dx%d)\n", path, m.BookID, m.Version, m.Width, m.Height)
	return nil
}
