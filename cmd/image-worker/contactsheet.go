package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/bookcovers/image-worker/contactsheet"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/internal/cli"
	"github.com/bookcovers/image-worker/signing"
	"github.com/bookcovers/image-worker/transform"
)

// contactSheetTimeout bounds the whole command.
const contactSheetTimeout = 2 * time.Minute

// contactSheetCmd renders every COVER_SIZES preset of a book's current cover
// side by side into a PNG, through the variant path of the service (the
// work is package contactsheet's):
// image-worker contact-sheet [--out FILE.png] [--server URL] [--format webp|avif] [--scale 1] [--palette] BOOK_ID
func contactSheetCmd(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("contact-sheet", flag.ContinueOnError)
	out := fs.String("out", "", "PNG file to write (default BOOK_ID-contact-sheet.png)")
	server := fs.String("server", "", "fetch the variants from a running service at this base URL (signed with IMAGE_SIGNING_KEYS) instead of rendering them here")
	formatName := fs.String("format", "webp", "variant format: webp or avif")
	scale := fs.Float64("scale", 1, "draw the covers at this fraction of their pixel size (labels keep the real sizes)")
	palette := fs.Bool("palette", false, "write an 8-bit palette PNG (much smaller; for docs)")
	pos, err := parseFlags(fs, args, stdout)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("contact-sheet")
	}
	sheet := contactsheet.Sheet{BookID: pos[0], Scale: *scale, Palette: *palette}
	if err := cover.ValidBookID(sheet.BookID); err != nil {
		return fmt.Errorf("%w: %v", cli.ErrUsage, err)
	}
	if sheet.Format, err = cover.ParseFormat(*formatName); err != nil {
		return fmt.Errorf("%w: --format: %v", cli.ErrUsage, err)
	}
	if *scale <= 0 || *scale > 1 {
		return fmt.Errorf("%w: --scale must be in (0, 1]", cli.ErrUsage)
	}
	if *out == "" {
		*out = sheet.BookID + "-contact-sheet.png"
	}
	cfg, err := loadConfig(lookup)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	logger := newLogger(stderr, max(cfg.LogLevel, slog.LevelWarn))
	ctx, cancel := context.WithTimeout(ctx, contactSheetTimeout)
	defer cancel()
	sheet.Presets = contactsheet.Presets(cfg.Proxy.Sizes)
	transform.Startup(cfg.Transform, logger) // the sheet is composed in this process
	var src contactsheet.Source
	if *server != "" {
		var signer contactsheet.Signer
		if !cfg.Signing.Disabled {
			if signer, err = signing.New(cfg.Signing); err != nil {
				return fmt.Errorf("signing: %w", err)
			}
		}
		if src, err = contactsheet.NewServer(*server, signer); err != nil {
			return fmt.Errorf("%w: %w", cli.ErrUsage, err)
		}
	} else {
		p, err := assemble(ctx, cfg, logger, assembly{prerender: prerenderNever})
		if err != nil {
			return err
		}
		defer p.close()
		src = contactsheet.Local{Manifests: p.manifests, Fill: contactsheet.Fill(renderFill(p.originals, p.renderer))}
	}
	res, err := contactsheet.Make(ctx, src, *out, sheet)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d×%d, %d presets of book %s, %d bytes\n", *out, res.Width, res.Height, res.Panels, sheet.BookID, res.Bytes)
	return nil
}
