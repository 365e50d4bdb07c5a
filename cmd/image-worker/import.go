package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/bookcovers/image-worker/ingest"
)

// importCmd stores a local file as a book's original through the same
// validation as POST /process: image-worker import --book B123 cover.jpg
func importCmd(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	book := fs.String("book", "", "book id (required)")
	pos, err := parseFlags(fs, args, stdout)
	if err != nil {
		return err
	}
	if *book == "" || len(pos) != 1 {
		return usageErr("import")
	}
	cfg, err := loadStoreConfig(lookup)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	logger := newLogger(stderr, cfg.LogLevel)
	f, err := ingest.ReadFile(pos[0], cfg.Fetch.MaxBytes)
	if err != nil {
		return err
	}
	// The write-back (catalog, result event) is queued in the store's
	// outbox; a serving replica delivers it. Its variants are left to the
	// first request.
	p, err := assemble(ctx, cfg, logger, assembly{prerender: prerenderNever})
	if err != nil {
		return err
	}
	defer p.close()
	m, imported, err := p.warmer.Import(ctx, *book, f)
	if err != nil {
		return err
	}
	if !imported {
		fmt.Fprintf(stdout, "not imported %s: book %s holds a newer cover, version %s\n", f.Path, m.BookID, m.Version)
		return nil
	}
	if err := p.outbox.RecordStored(ctx, m); err != nil {
		return fmt.Errorf("import %s: %w (run the import again)", f.Path, err)
	}
	fmt.Fprintf(stdout, "imported %s as book %s version %s (%dx%d)\n", f.Path, m.BookID, m.Version, m.Width, m.Height)
	return nil
}
