package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"image"
	"image/jpeg"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"golang.org/x/image/webp"
)

// specPath is the contract, relative to this package.
const specPath = "../../openapi.yaml"

// contract is openapi.yaml loaded, validated and routed, plus a record of the
// operations and statuses that real requests reached.
type contract struct {
	doc    *openapi3.T
	router routers.Router

	mu   sync.Mutex
	seen map[string]map[int]bool // "GET /covers/{book_id}/{file}" -> statuses
}

var registerDecoders sync.Once

// loadContract loads openapi.yaml and fails the test unless it is a valid document.
func loadContract(t *testing.T) *contract {
	t.Helper()
	registerDecoders.Do(func() {
		// Image bodies are checked by decoding their header, not by bytes.
		openapi3filter.RegisterBodyDecoder("image/webp", imageDecoder(decodeWebP))
		openapi3filter.RegisterBodyDecoder("image/avif", imageDecoder(decodeAVIF))
		openapi3filter.RegisterBodyDecoder("image/jpeg", imageDecoder(decodeJPEG))
		openapi3filter.RegisterBodyDecoder("application/x-protobuf", openapi3filter.FileBodyDecoder)
	})
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromFile(specPath)
	if err != nil {
		t.Fatalf("load %s: %v", specPath, err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("%s is not a valid OpenAPI document: %v", specPath, err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("route %s: %v", specPath, err)
	}
	return &contract{doc: doc, router: router, seen: map[string]map[int]bool{}}
}

// specCall is one real request. base is the listener it goes to.
type specCall struct {
	base     string
	internal bool // base is the internal listener
	method   string
	path     string // with the query
	header   map[string]string
	body     []byte
	// breaksSpec: the request itself violates openapi.yaml (the answer must
	// still be documented). A request the spec accepts although it was
	// expected to reject it, or the reverse, fails the test.
	breaksSpec bool
}

var contractClient = &http.Client{
	Timeout:       90 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// send validates the request against the spec, sends it, validates the
// answer (status, headers, body) and returns it with its body read.
func (c *contract) send(t *testing.T, r specCall) (*http.Response, []byte) {
	t.Helper()
	what := r.method + " " + r.path
	req := r.request(t)
	route, params, routeErr := c.router.FindRoute(req)
	if routeErr != nil {
		t.Errorf("%s: no operation in openapi.yaml: %v", what, routeErr)
	}
	var in *openapi3filter.RequestValidationInput
	if route != nil {
		listener := map[bool]string{false: "public", true: "internal"}[r.internal]
		if ls := c.listeners(route.PathItem, route.Operation); !slices.Contains(ls, listener) {
			t.Errorf("%s was answered on the %s listener but openapi.yaml declares it on %v", what, listener, ls)
		}
		in = &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: bearerPresent, MultiError: true}}
		err := openapi3filter.ValidateRequest(context.Background(), in)
		switch {
		case err != nil && !r.breaksSpec:
			t.Errorf("%s: openapi.yaml rejects this request: %v", what, err)
		case err == nil && r.breaksSpec:
			t.Errorf("%s: openapi.yaml accepts this request, want it rejected by the spec", what)
		}
	}
	resp, err := contractClient.Do(r.request(t))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: read body: %v", what, err)
	}
	if route != nil {
		c.record(route, resp.StatusCode)
		if err := c.checkResponse(in, resp.StatusCode, resp.Header, body); err != nil {
			t.Errorf("%s = %d %s\nviolates openapi.yaml: %v", what, resp.StatusCode, clipBody(body), err)
		}
	}
	return resp, body
}

func (r specCall) request(t *testing.T) *http.Request {
	t.Helper()
	req, err := http.NewRequest(r.method, r.base+r.path, bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("NewRequest(%s %s): %v", r.method, r.path, err)
	}
	if r.body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	return req
}

// checkResponse validates one answer. openapi3filter skips HEAD and 304
// entirely, so documented status, required headers and header schemas are
// checked here for every answer, and bodies by openapi3filter.
func (c *contract) checkResponse(in *openapi3filter.RequestValidationInput, status int, hdr http.Header, body []byte) error {
	route := in.Route
	ref := route.Operation.Responses.Status(status)
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("status %d is not documented for %s %s", status, route.Method, route.Path)
	}
	var errs []error
	for name, h := range ref.Value.Headers {
		if strings.EqualFold(name, "Content-Type") || h.Value == nil {
			continue
		}
		if err := checkHeader(name, h.Value, hdr); err != nil {
			errs = append(errs, err)
		}
	}
	if route.Method == http.MethodHead || status == http.StatusNotModified {
		if len(body) != 0 {
			errs = append(errs, fmt.Errorf("%d to %s has a body of %d bytes", status, route.Method, len(body)))
		}
	}
	if route.Method == http.MethodHead && status == http.StatusOK {
		get := route.PathItem.Get
		if get == nil || get.Responses.Status(http.StatusOK) == nil || get.Responses.Status(http.StatusOK).Value.Content.Get(hdr.Get("Content-Type")) == nil {
			errs = append(errs, fmt.Errorf("HEAD Content-Type %q is not a content type of GET 200", hdr.Get("Content-Type")))
		}
	}
	err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: hdr, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
	return errors.Join(append(errs, err)...)
}

// checkHeader checks presence when required and the value against its schema.
func checkHeader(name string, h *openapi3.Header, hdr http.Header) error {
	vals := hdr.Values(name)
	if len(vals) == 0 {
		if h.Required {
			return fmt.Errorf("required header %s is missing", name)
		}
		return nil
	}
	if h.Schema == nil || h.Schema.Value == nil {
		return nil
	}
	var v any = vals[0]
	if h.Schema.Value.Type.Is("integer") {
		n, err := strconv.ParseInt(vals[0], 10, 64)
		if err != nil {
			return fmt.Errorf("header %s: %q is not an integer", name, vals[0])
		}
		v = n
	}
	if err := h.Schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("header %s: %q: %w", name, vals[0], err)
	}
	return nil
}

// listeners names the listeners an operation is declared on: the
// x-listener of its servers (operation, path item, or document).
func (c *contract) listeners(item *openapi3.PathItem, op *openapi3.Operation) []string {
	servers := c.doc.Servers
	if len(item.Servers) > 0 {
		servers = item.Servers
	}
	if op.Servers != nil {
		servers = *op.Servers
	}
	var out []string
	for _, s := range servers {
		if l, ok := s.Extensions["x-listener"].(string); ok {
			out = append(out, l)
		}
	}
	return out
}

func (c *contract) record(route *routers.Route, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := route.Method + " " + route.Path
	if c.seen[key] == nil {
		c.seen[key] = map[int]bool{}
	}
	c.seen[key][status] = true
}

// requireEveryOperation fails for an operation no request reached, and logs
// the documented statuses that were not produced.
func (c *contract) requireEveryOperation(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, path := range c.doc.Paths.InMatchingOrder() {
		for method, op := range c.doc.Paths.Value(path).Operations() {
			key := method + " " + path
			if len(c.seen[key]) == 0 {
				t.Errorf("openapi.yaml describes %s (%s) but no test request reached it", key, op.OperationID)
				continue
			}
			var missing []string
			for _, code := range op.Responses.Keys() {
				if n, err := strconv.Atoi(code); err == nil && !c.seen[key][n] {
					missing = append(missing, code)
				}
			}
			if len(missing) > 0 {
				slices.Sort(missing)
				t.Logf("%s: documented but not produced by these tests: %v", key, missing)
			}
		}
	}
}

// bearerPresent satisfies the adminToken scheme when a bearer token is sent
// (whether it is the right one is the service's business: 401).
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if s := in.SecurityScheme; s != nil && s.Type == "http" && strings.EqualFold(s.Scheme, "bearer") {
		if tok, ok := strings.CutPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer "); ok && tok != "" {
			return nil
		}
		return errors.New("no bearer token")
	}
	return fmt.Errorf("unknown security scheme %q", in.SecuritySchemeName)
}

// imageDecoder turns an image check into a body decoder: the body must be an
// image of the declared type; its value for the schema is the raw string.
func imageDecoder(check func([]byte) error) openapi3filter.BodyDecoder {
	return func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		if err := check(b); err != nil {
			return nil, err
		}
		return string(b), nil
	}
}

func decodeWebP(b []byte) error { return decodeHeader("WebP", webp.DecodeConfig, b) }

func decodeJPEG(b []byte) error { return decodeHeader("JPEG", jpeg.DecodeConfig, b) }

// decodeHeader checks that b is a name image with a non-empty size.
func decodeHeader(name string, decodeConfig func(io.Reader) (image.Config, error), b []byte) error {
	cfg, err := decodeConfig(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("not a %s: %w", name, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 {
		return fmt.Errorf("%s of %dx%d", name, cfg.Width, cfg.Height)
	}
	return nil
}

// decodeAVIF checks the ISO-BMFF file type box for an AVIF brand.
func decodeAVIF(b []byte) error {
	if len(b) < 16 || string(b[4:8]) != "ftyp" {
		return errors.New("not an ISO-BMFF file")
	}
	size := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	if size < 16 || size > len(b) {
		return fmt.Errorf("ftyp box of %d bytes", size)
	}
	for i := 8; i+4 <= size; i += 4 {
		if i == 12 {
			continue // minor version
		}
		if brand := string(b[i : i+4]); brand == "avif" || brand == "avis" {
			return nil
		}
	}
	return errors.New("no avif brand in ftyp")
}

func clipBody(b []byte) string {
	if len(b) > 300 || !isText(b) {
		return fmt.Sprintf("(%d bytes)", len(b))
	}
	return string(b)
}

func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x09 || c > 0x7e {
			return false
		}
	}
	return true
}

// TestOpenAPIHarnessCatchesDrift proves the validation can fail: answers that
// differ from openapi.yaml in one way each are refused, and the same answers
// as the service gives them pass.
func TestOpenAPIHarnessCatchesDrift(t *testing.T) {
	c := loadContract(t)
	jobID := strings.Repeat("ab", 16)
	base := map[string]string{"Content-Type": "application/json", "X-Request-Id": "r1", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
	with := func(extra map[string]string, drop ...string) map[string]string {
		h := maps.Clone(base)
		maps.Copy(h, extra)
		for _, k := range drop {
			delete(h, k)
		}
		return h
	}
	cover := map[string]string{"ETag": `"1a2b"`, "Cache-Control": "public, max-age=86400, stale-while-revalidate=3600",
		"Surrogate-Key": "book-B1", "Cache-Tag": "book-B1", "X-Request-Id": "r1", "X-Content-Type-Options": "nosniff"}
	avif := string(readTestdata(t, "cover-1200x1800.avif"))
	image := func(ct string) map[string]string {
		h := maps.Clone(cover)
		h["Content-Type"], h["Content-Length"] = ct, "1000"
		return h
	}
	blurhash := "T" + strings.Repeat("0", 27)
	urlHash := "32698cf322d2132c41d2dae6a07b10629dd9e9412a093e89d9a0b59f301bedf3"
	meta := `"book_id":"B1","version":"0123456789ab","source_url":"https://images.example.com/b1.jpg","source_url_sha256":"` + urlHash + `","width":1600,"height":2400,` +
		`"format":"jpeg","bytes":1000,"dominant_color":"#7a5c3e","blurhash":"` + blurhash + `","lqip":"data:image/webp;base64,UklGRg==",` +
		`"covers":{"thumb":{"webp":"/covers/B1/thumb.webp?v=0123456789ab&sig=` + strings.Repeat("A", 43) + `","avif":"/covers/B1/thumb.avif?v=0123456789ab","jpg":"/covers/B1/thumb.jpg?v=0123456789ab"}}`
	cases := []struct {
		name, method, path string
		status             int
		header             map[string]string
		body               string
		wantErr            string // a part of the validation error; "" for none
	}{
		{"health as frozen", "GET", "/health", 200, base, `{"status":"ok","stub":false}`, ""},
		{"health with an extra field", "GET", "/health", 200, base, `{"status":"ok","stub":false,"uptime":3}`, `'uptime' not allowed`},
		{"health with stub true", "GET", "/health", 200, base, `{"status":"ok","stub":true}`, `/stub`},
		{"health without X-Request-Id", "GET", "/health", 200, with(nil, "X-Request-Id"), `{"status":"ok","stub":false}`, `X-Request-Id`},
		{"health cacheable", "GET", "/health", 200, with(map[string]string{"Cache-Control": "max-age=60"}), `{"status":"ok","stub":false}`, `Cache-Control`},
		{"process 202 as frozen", "POST", "/process", 202, with(map[string]string{"Location": "/jobs/" + jobID}), `{"message":"accepted","stub":false,"job_id":"` + jobID + `"}`, ""},
		{"process 200 instead of 202", "POST", "/process", 200, with(map[string]string{"Location": "/jobs/" + jobID}), `{"message":"accepted","stub":false,"job_id":"` + jobID + `"}`, `status 200 is not documented`},
		{"process 202 without Location", "POST", "/process", 202, base, `{"message":"accepted","stub":false,"job_id":"` + jobID + `"}`, `Location`},
		{"process 202 with an extra field", "POST", "/process", 202, with(map[string]string{"Location": "/jobs/" + jobID}), `{"message":"accepted","stub":false,"job_id":"` + jobID + `","queued":1}`, `'queued' not allowed`},
		{"process 202 message changed", "POST", "/process", 202, with(map[string]string{"Location": "/jobs/" + jobID}), `{"message":"queued","stub":false,"job_id":"` + jobID + `"}`, `/message`},
		{"job as served", "GET", "/jobs/" + jobID, 200, base, `{"job_id":"` + jobID + `","book_id":"B1","state":"succeeded","version":"0123456789ab"}`, ""},
		{"job succeeded without version", "GET", "/jobs/" + jobID, 200, base, `{"job_id":"` + jobID + `","book_id":"B1","state":"succeeded"}`, `'version'`},
		{"job failed without error", "GET", "/jobs/" + jobID, 200, base, `{"job_id":"` + jobID + `","book_id":"B1","state":"failed"}`, `'error'`},
		{"403 bad_signature", "GET", "/covers/B1/320.webp", 403, base, `{"error":{"code":"bad_signature","message":"the URL signature is not valid"}}`, ""},
		{"403 with a 404 code", "GET", "/covers/B1/320.webp", 403, base, `{"error":{"code":"no_cover","message":"x"}}`, `/error/code`},
		{"error with an unknown code", "GET", "/covers/B1/320.webp", 403, base, `{"error":{"code":"nope","message":"x"}}`, `/error/code`},
		{"error as a string", "GET", "/covers/B1/320.webp", 403, base, `{"error":"bad signature"}`, `/error`},
		{"503 with Retry-After", "GET", "/covers/B1/320.webp", 503, with(map[string]string{"Retry-After": "1"}), `{"error":{"code":"overloaded","message":"x"}}`, ""},
		{"503 without Retry-After", "GET", "/covers/B1/320.webp", 503, base, `{"error":{"code":"overloaded","message":"x"}}`, `Retry-After`},
		{"undocumented status", "GET", "/covers/B1/320.webp", 418, base, `{"error":{"code":"internal","message":"x"}}`, `status 418 is not documented`},
		{"cover 304 as served", "GET", "/covers/B1/320.webp", 304, cover, ``, ""},
		{"cover 304 without ETag", "GET", "/covers/B1/320.webp", 304, with(cover, "ETag"), ``, `ETag`},
		{"cover 200 as served", "GET", "/covers/B1/320.avif", 200, image("image/avif"), avif, ""},
		{"cover 200 not an image", "GET", "/covers/B1/320.webp", 200, image("image/webp"), `hello`, `not a WebP`},
		{"jpg 200 not a JPEG", "GET", "/covers/B1/320.jpg", 200, image("image/jpeg"), `hello`, `not a JPEG`},
		{"HEAD 200 as served", "HEAD", "/covers/B1/320.avif", 200, image("image/avif"), ``, ""},
		{"HEAD 200 with a body", "HEAD", "/covers/B1/320.avif", 200, image("image/avif"), avif, `has a body`},
		{"meta.json as agreed", "GET", "/covers/B1/meta.json", 200, with(cover), `{` + meta + `}`, ""},
		{"meta.json with job_id", "GET", "/covers/B1/meta.json", 200, with(cover), `{` + meta + `,"job_id":"` + jobID + `"}`, `/job_id`},
		{"meta.json without source_url_sha256", "GET", "/covers/B1/meta.json", 200, with(cover), `{` + strings.Replace(meta, `"source_url_sha256":"`+urlHash+`",`, "", 1) + `}`, `source_url_sha256`},
		{"meta.json source_url_sha256 not hex", "GET", "/covers/B1/meta.json", 200, with(cover), `{` + strings.Replace(meta, urlHash, strings.ToUpper(urlHash), 1) + `}`, `/source_url_sha256`},
		{"meta.json blurhash of 4x3 components", "GET", "/covers/B1/meta.json", 200, with(cover), `{` + strings.Replace(meta, blurhash, "L"+blurhash[1:], 1) + `}`, `/blurhash`},
		{"meta.json lqip over 1024 bytes", "GET", "/covers/B1/meta.json", 200, with(cover), `{` + strings.Replace(meta, "UklGRg==", strings.Repeat("A", 1024), 1) + `}`, `/lqip`},
		{"v2 as agreed", "POST", "/v2/process", 200, base, `{` + meta + `,"job_id":"` + jobID + `"}`, ""},
		{"v2 without job_id", "POST", "/v2/process", 200, base, `{` + meta + `}`, `job_id`},
		{"v2 failure without job_id", "POST", "/v2/process", 422, base, `{"error":{"code":"not_an_image","message":"x"}}`, `job_id`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, "http://127.0.0.1:8000"+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			route, params, err := c.router.FindRoute(req)
			if err != nil {
				t.Fatalf("FindRoute(%s %s): %v", tc.method, tc.path, err)
			}
			hdr := http.Header{}
			for k, v := range tc.header {
				hdr.Set(k, v)
			}
			in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: bearerPresent}}
			err = c.checkResponse(in, tc.status, hdr, []byte(tc.body))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("%s %s = %d %s: validation error %v, want none", tc.method, tc.path, tc.status, clipBody([]byte(tc.body)), err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("%s %s = %d %s: validation error %v, want one about %q", tc.method, tc.path, tc.status, clipBody([]byte(tc.body)), err, tc.wantErr)
			}
		})
	}
}

// apiErrorCodes reads the codes the proxy package answers with: every code
// of its statusTable (the job codes POST /v2/process answers with among
// them) and the code of every apiError{status, code, message} literal.
func apiErrorCodes(t *testing.T, dir string) []string {
	t.Helper()
	names := coverCodes(t)
	var codes []string
	for _, f := range parseGoFiles(t, dir) {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				if id, ok := n.Type.(*ast.Ident); ok && id.Name == "apiError" && len(n.Elts) >= 2 {
					if s, ok := codeLit(n.Elts[1], names); ok {
						codes = append(codes, s)
					}
				}
			case *ast.ValueSpec:
				if len(n.Names) == 1 && n.Names[0].Name == "statusTable" {
					codes = append(codes, codesIn(n, names)...)
				}
			}
			return true
		})
	}
	return codes
}

// ingestCodes reads the codes of ingest's job code set (jobCodes).
func ingestCodes(t *testing.T, file string) []string {
	t.Helper()
	names := coverCodes(t)
	var codes []string
	for _, f := range parseGoFiles(t, file) {
		ast.Inspect(f, func(n ast.Node) bool {
			spec, ok := n.(*ast.ValueSpec)
			if ok && len(spec.Names) == 1 && spec.Names[0].Name == "jobCodes" {
				codes = append(codes, codesIn(spec, names)...)
				return false
			}
			return true
		})
	}
	return codes
}

// coverCodes maps the name of each cover.Code constant to its value.
func coverCodes(t *testing.T) map[string]string {
	t.Helper()
	names := map[string]string{}
	for _, f := range parseGoFiles(t, "../../cover/codes.go") {
		ast.Inspect(f, func(n ast.Node) bool {
			if spec, ok := n.(*ast.ValueSpec); ok && len(spec.Names) == 1 && len(spec.Values) == 1 {
				if s, ok := stringLit(spec.Values[0]); ok {
					names[spec.Names[0].Name] = s
				}
			}
			return true
		})
	}
	return names
}

// codesIn returns the value of every cover.Code constant n names.
func codesIn(n ast.Node, names map[string]string) []string {
	var codes []string
	ast.Inspect(n, func(n ast.Node) bool {
		if e, ok := n.(ast.Expr); ok {
			if s, ok := codeLit(e, names); ok {
				codes = append(codes, s)
				return false
			}
		}
		return true
	})
	return codes
}

// codeLit reads a code written as a string literal, a cover.Code constant
// (cover.CodeInternal) or its conversion to string.
func codeLit(e ast.Expr, names map[string]string) (string, bool) {
	if call, ok := e.(*ast.CallExpr); ok && len(call.Args) == 1 {
		if id, ok := call.Fun.(*ast.Ident); ok && id.Name == "string" {
			e = call.Args[0]
		}
	}
	if sel, ok := e.(*ast.SelectorExpr); ok {
		if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "cover" {
			s, ok := names[sel.Sel.Name]
			return s, ok
		}
	}
	return stringLit(e)
}

func parseGoFiles(t *testing.T, path string) []*ast.File {
	t.Helper()
	files := []string{path}
	if !strings.HasSuffix(path, ".go") {
		all, _ := filepath.Glob(filepath.Join(path, "*.go"))
		files = slices.DeleteFunc(all, func(f string) bool { return strings.HasSuffix(f, "_test.go") })
	}
	var out []*ast.File
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		out = append(out, f)
	}
	return out
}

func stringLit(e ast.Expr) (string, bool) {
	b, ok := e.(*ast.BasicLit)
	if !ok || b.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(b.Value)
	return s, err == nil
}
