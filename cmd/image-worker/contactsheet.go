package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/bookcovers/image-worker/backfill"
	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/signing"
	"github.com/bookcovers/image-worker/transform"
)

// errNoStoredCover reports a book without a current cover.
var errNoStoredCover = errors.New("the book has no cover")

// contactSheetTimeout bounds the whole command.
const contactSheetTimeout = 2 * time.Minute

// contactSheetCmd renders every COVER_SIZES preset of a book's current cover
// side by side into a PNG, through the variant path of the service:
// image-worker contact-sheet [--out FILE.png] [--server URL] [--format webp|avif] [--scale 1] [--palette] BOOK_ID
func contactSheetCmd(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("contact-sheet", flag.ContinueOnError)
	out := fs.String("out", "", "PNG file to write (default BOOK_ID-contact-sheet.png)")
	server := fs.String("server", "", "fetch the variants from a running service at this base URL (signed with IMAGE_SIGNING_KEYS) instead of rendering them here")
	formatName := fs.String("format", "webp", "variant format: webp or avif")
	scale := fs.Float64("scale", 1, "draw the covers at this fraction of their pixel size (labels keep the real sizes)")
	palette := fs.Bool("palette", false, "write an 8-bit palette PNG (much smaller; for docs)")
	pos, err := parseArgs(fs, args, usageOf("contact-sheet"), stdout)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError(usageOf("contact-sheet"))
	}
	bookID := pos[0]
	if err := cover.ValidBookID(bookID); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	format, err := cover.ParseFormat(*formatName)
	if err != nil {
		return fmt.Errorf("%w: --format: %v", errUsage, err)
	}
	if *scale <= 0 || *scale > 1 {
		return fmt.Errorf("%w: --scale must be in (0, 1]", errUsage)
	}
	if *out == "" {
		*out = bookID + "-contact-sheet.png"
	}
	cfg, err := loadConfig(lookup)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	logger := newLogger(stderr, max(cfg.LogLevel, slog.LevelWarn))
	ctx, cancel := context.WithTimeout(ctx, contactSheetTimeout)
	defer cancel()
	presets := sheetPresets(cfg.Proxy.Sizes)
	var panels []transform.SheetPanel
	var title string
	transform.Startup(cfg.Transform, logger) // the sheet is composed in this process
	if *server != "" {
		panels, err = serverPanels(ctx, cfg, *server, bookID, format, presets)
		title = fmt.Sprintf("%s  ·  %s from %s", bookID, format, *server)
	} else {
		var m cover.Manifest
		m, panels, err = localPanels(ctx, cfg, logger, bookID, format, presets)
		title = fmt.Sprintf("%s  ·  version %s  ·  original %d×%d %s  ·  %s", bookID, m.Version, m.Width, m.Height, m.ContentType, format)
	}
	if err != nil {
		return err
	}
	if *scale != 1 {
		title += fmt.Sprintf("  ·  drawn at %g%%", *scale*100)
	}
	png, layout, err := transform.ComposeContactSheet(title, panels, *scale, *palette)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(*out, png); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d×%d, %d presets of book %s, %d bytes\n", *out, layout.Width, layout.Height, len(panels), bookID, len(png))
	return nil
}

// sheetPreset is one COVER_SIZES entry.
type sheetPreset struct {
	Name string
	cover.Size
}

// sheetPresets orders presets by width, then name.
func sheetPresets(sizes map[string]cover.Size) []sheetPreset {
	out := make([]sheetPreset, 0, len(sizes))
	for name, sz := range sizes {
		out = append(out, sheetPreset{name, sz})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Width < out[j].Width || out[i].Width == out[j].Width && out[i].Name < out[j].Name
	})
	return out
}

// localPanels renders each preset from the stored original of the book's
// current version with the fill function the variant cache uses on a miss.
func localPanels(ctx context.Context, cfg config, logger *slog.Logger, bookID string, format cover.Format, presets []sheetPreset) (cover.Manifest, []transform.SheetPanel, error) {
	p, err := assemble(ctx, cfg, logger, assembly{prerender: prerenderNever})
	if err != nil {
		return cover.Manifest{}, nil, err
	}
	defer p.close()
	m, err := p.manifests.Load(ctx, bookID)
	if errors.Is(err, cache.ErrNotFound) {
		return m, nil, fmt.Errorf("contact sheet: book %s: %w in this store; warm it first (POST /process, image-worker import or backfill)", bookID, errNoStoredCover)
	}
	if err != nil {
		return m, nil, fmt.Errorf("contact sheet: %w", err)
	}
	fill := renderFill(p.originals, p.renderer)
	panels := make([]transform.SheetPanel, 0, len(presets))
	for _, preset := range presets {
		key := cover.VariantKey{BookID: bookID, Version: m.Version, Width: preset.Width, Height: preset.Height, Fit: preset.Fit, Format: string(format)}
		b, err := fill(ctx, key)
		if err != nil {
			return m, nil, fmt.Errorf("contact sheet: preset %s: %w", preset.Name, err)
		}
		panels = append(panels, transform.SheetPanel{Name: preset.Name, Data: b})
	}
	return m, panels, nil
}

// serverPanels fetches each preset from a running service with a signed
// URL. A placeholder answer means the book has no cover there.
func serverPanels(ctx context.Context, cfg config, base, bookID string, format cover.Format, presets []sheetPreset) ([]transform.SheetPanel, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: --server must be an http(s) base URL", errUsage)
	}
	base = strings.TrimRight(base, "/")
	signer, err := signing.New(cfg.Signing)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	panels := make([]transform.SheetPanel, 0, len(presets))
	for _, p := range presets {
		path := "/covers/" + bookID + "/" + p.Name + "." + string(format)
		if !cfg.Signing.Disabled {
			if path, err = signer.SignedURL(path); err != nil {
				return nil, fmt.Errorf("sign %s: %w", p.Name, err)
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("contact sheet: GET preset %s: %w", p.Name, err)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		switch {
		case err != nil:
			return nil, fmt.Errorf("contact sheet: read preset %s: %w", p.Name, err)
		case resp.StatusCode == http.StatusNotFound || resp.Header.Get("X-Cover-Placeholder") != "":
			return nil, fmt.Errorf("contact sheet: book %s on %s: %w", bookID, base, errNoStoredCover)
		case resp.StatusCode != http.StatusOK:
			return nil, fmt.Errorf("contact sheet: GET preset %s: %w", p.Name, backfill.ServiceError("GET /covers", resp.StatusCode, b))
		}
		panels = append(panels, transform.SheetPanel{Name: p.Name, Data: b})
	}
	return panels, nil
}

// writeFileAtomic writes data to a temporary file beside path, then renames it.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".contact-sheet-*.png")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, werr := tmp.Write(data)
	if err := errors.Join(werr, tmp.Chmod(0o644), tmp.Close()); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
