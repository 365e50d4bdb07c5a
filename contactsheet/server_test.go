package contactsheet

import (
	"bytes"
	"context"
	"errors"
	"image/color"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/signing"
)

// coverServer answers GET /covers/{book}/{preset}.{format} as the service
// does for the books it holds (the bytes of body), a placeholder for the
// others when placeholders is set, 404 no_cover otherwise; with a
// verifier, an unsigned or badly signed path is 403. It records the
// request URIs.
type coverServer struct {
	verifier     *signing.Signer
	books        map[string][]byte
	placeholders bool
	status       int // when set, every answer: this status and body
	body         string

	mu   sync.Mutex
	uris []string
}

func (s *coverServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.uris = append(s.uris, r.URL.RequestURI())
	s.mu.Unlock()
	if s.status != 0 {
		w.WriteHeader(s.status)
		w.Write([]byte(s.body))
		return
	}
	if s.verifier != nil {
		q := r.URL.Query()
		sig := q.Get("sig")
		q.Del("sig")
		if err := s.verifier.Verify(r.URL.Path, q, sig); err != nil {
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":{"code":"bad_signature","message":"the URL signature is not valid"}}`))
			return
		}
	}
	book := strings.Split(strings.TrimPrefix(r.URL.Path, "/covers/"), "/")[0]
	if b, ok := s.books[book]; ok {
		w.Write(b)
		return
	}
	if s.placeholders {
		w.Header().Set("X-Cover-Placeholder", "true")
		w.Write([]byte("placeholder"))
		return
	}
	w.WriteHeader(http.StatusNotFound)
	w.Write([]byte(`{"error":{"code":"no_cover","message":"there is no cover for this book"}}`))
}

func testSigner(t *testing.T) *signing.Signer {
	t.Helper()
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	s, err := signing.New(signing.Config{Keys: [][]byte{key}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestServer(t *testing.T) {
	t.Parallel()
	signer := testSigner(t)
	img := pngOf(t, 20, 30, color.RGBA{10, 120, 10, 255})
	presets := Presets(map[string]cover.Size{"small": {Width: 160}, "thumb": {Width: 96}})
	for _, tc := range []struct {
		name   string
		signer Signer
		verify *signing.Signer
		signed bool
	}{{"signed", signer, signer, true}, {"unsigned for a service without signing", nil, nil, false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cs := &coverServer{verifier: tc.verify, books: map[string][]byte{"B1": img}}
			srv := httptest.NewServer(cs)
			defer srv.Close()
			src, err := NewServer(srv.URL+"/", tc.signer)
			if err != nil {
				t.Fatalf("NewServer(%s/): %v", srv.URL, err)
			}
			title, panels, err := src.Panels(context.Background(), "B1", cover.AVIF, presets)
			if err != nil {
				t.Fatalf("Panels: %v", err)
			}
			if len(panels) != 2 || panels[0].Name != "thumb" || panels[1].Name != "small" || !bytes.Equal(panels[0].Data, img) {
				t.Errorf("panels %+v, want thumb then small with the served bytes", panels)
			}
			if want := "B1  ·  avif from " + srv.URL + "/"; title != want {
				t.Errorf("title %q, want %q", title, want)
			}
			for i, uri := range cs.uris {
				wantPath := "/covers/B1/" + presets[i].Name + ".avif"
				if !strings.HasPrefix(uri, wantPath) || strings.Contains(uri, "sig=") != tc.signed {
					t.Errorf("request %d was %s, want %s, signed: %v", i, uri, wantPath, tc.signed)
				}
			}
		})
	}
}

func TestServerRefuses(t *testing.T) {
	t.Parallel()
	signer := testSigner(t)
	presets := Presets(map[string]cover.Size{"thumb": {Width: 96}})
	tests := []struct {
		name     string
		cs       *coverServer
		signer   Signer
		want     error
		wantCode cover.Code
		text     string
	}{
		{"404: no cover there", &coverServer{}, signer, ErrNoCover, "", "book NO-SUCH-BOOK on "},
		{"a placeholder: no cover there", &coverServer{placeholders: true}, signer, ErrNoCover, "", "book NO-SUCH-BOOK on "},
		{"refused signature", &coverServer{verifier: signer}, nil, nil, cover.CodeBadSignature, "GET preset thumb"},
		{"an error without the service's body", &coverServer{status: http.StatusBadGateway, body: "Bad Gateway"}, signer, nil, "http_502", "GET /covers answered 502: Bad Gateway"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tc.cs)
			defer srv.Close()
			src, err := NewServer(srv.URL, tc.signer)
			if err != nil {
				t.Fatal(err)
			}
			_, panels, err := src.Panels(context.Background(), "NO-SUCH-BOOK", cover.WebP, presets)
			if err == nil || panels != nil || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("Panels = %d panels, %v; want none and an error mentioning %q", len(panels), err, tc.text)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Panels = %v, want %v", err, tc.want)
			}
			var se *cover.ServiceError
			if tc.wantCode != "" && (!errors.As(err, &se) || se.Code != tc.wantCode) {
				t.Errorf("Panels = %v, want the service's code %s", err, tc.wantCode)
			}
		})
	}
}

func TestNewServerRefusesWhatIsNoBaseURL(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"", "127.0.0.1:8000", "ftp://127.0.0.1/", "http://", "http://[::1"} {
		if _, err := NewServer(base, nil); !errors.Is(err, ErrServerURL) {
			t.Errorf("NewServer(%q) = %v, want ErrServerURL", base, err)
		}
	}
}
