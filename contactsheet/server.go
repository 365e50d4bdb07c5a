package contactsheet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/transform"
)

// ErrServerURL reports a --server value that is not an http(s) base URL.
var ErrServerURL = errors.New("--server must be an http(s) base URL")

// Budgets of a Server.
const (
	serverRequestTimeout = 30 * time.Second // one GET
	serverMaxBody        = 64 << 20         // of one variant
)

// Signer signs a cover path as the service wants it (signing.Signer).
type Signer interface {
	SignedURL(path string) (string, error)
}

// Server fetches each preset from a running service, as a client does:
// GET /covers/{book}/{preset}.{format}, signed.
type Server struct {
	raw    string // as given, for the title
	base   string // without a trailing slash
	signer Signer
	client *http.Client
}

// NewServer fetches from the service at base, an http(s) URL (else
// ErrServerURL). signer signs each path; nil sends them unsigned (a service
// with IMAGE_SIGNING_DISABLED).
func NewServer(base string, signer Signer) (*Server, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, ErrServerURL
	}
	return &Server{raw: base, base: strings.TrimRight(base, "/"), signer: signer, client: &http.Client{Timeout: serverRequestTimeout}}, nil
}

// Panels fetches the presets of the book; the title names the service. A
// 404 or a placeholder answer means the book has no cover there
// (ErrNoCover); any other error answer is a *cover.ServiceError.
func (s *Server) Panels(ctx context.Context, bookID string, format cover.Format, presets []Preset) (string, []transform.SheetPanel, error) {
	panels := make([]transform.SheetPanel, 0, len(presets))
	for _, p := range presets {
		b, err := s.get(ctx, bookID, p.Name, format)
		if err != nil {
			return "", nil, err
		}
		panels = append(panels, transform.SheetPanel{Name: p.Name, Data: b})
	}
	return fmt.Sprintf("%s  ·  %s from %s", bookID, format, s.raw), panels, nil
}

// get fetches one preset.
func (s *Server) get(ctx context.Context, bookID, preset string, format cover.Format) ([]byte, error) {
	path := "/covers/" + bookID + "/" + preset + "." + string(format)
	if s.signer != nil {
		var err error
		if path, err = s.signer.SignedURL(path); err != nil {
			return nil, fmt.Errorf("sign %s: %w", preset, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("contact sheet: GET preset %s: %w", preset, err)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, serverMaxBody))
	resp.Body.Close()
	switch {
	case err != nil:
		return nil, fmt.Errorf("contact sheet: read preset %s: %w", preset, err)
	case resp.StatusCode == http.StatusNotFound || resp.Header.Get("X-Cover-Placeholder") != "":
		return nil, fmt.Errorf("contact sheet: book %s on %s: %w", bookID, s.base, ErrNoCover)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("contact sheet: GET preset %s: %w", preset, cover.ReadServiceError("GET /covers", resp.StatusCode, b))
	}
	return b, nil
}
