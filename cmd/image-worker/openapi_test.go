package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang/groupcache/groupcachepb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"

	"github.com/bookcovers/image-worker/cache"
	"github.com/bookcovers/image-worker/cover"
	"github.com/bookcovers/image-worker/internal/replica"
	"github.com/bookcovers/image-worker/transform"
)

// TestOpenAPIContract sends real requests for every operation of openapi.yaml
// (and the important error statuses) to the real service, and validates each
// request and answer against the spec. It fails for an operation no request
// reached, so a new route in the spec needs a request here.
func TestOpenAPIContract(t *testing.T) {
	c := loadContract(t)
	t.Run("services", func(t *testing.T) {
		t.Run("v1", func(t *testing.T) {
			t.Parallel()
			src := newSource(t)
			svc := startService(t, localStore(t), src, map[string]string{"ADMIN_TOKEN": contractAdminToken, "ALLOW_ORIGINS": contractOrigin})
			t.Run("health, readiness, metrics", func(t *testing.T) { contractHealth(t, c, svc) })
			t.Run("process and jobs", func(t *testing.T) { contractProcess(t, c, svc, src) })
			t.Run("covers", func(t *testing.T) { contractCovers(t, c, svc, src) })
			t.Run("purge", func(t *testing.T) { contractPurge(t, c, svc, src) })
			t.Run("routes only on their listeners", func(t *testing.T) { contractUnserved(t, c, svc) })
		})
		t.Run("store down", func(t *testing.T) { t.Parallel(); contractStoreDown(t, c) })
		t.Run("draining", func(t *testing.T) { t.Parallel(); contractDraining(t, c) })
		t.Run("placeholders off", func(t *testing.T) { t.Parallel(); contractNoPlaceholders(t, c) })
		t.Run("process tokens", func(t *testing.T) { t.Parallel(); contractProcessTokens(t, c) })
		t.Run("v2 process and meta.json", func(t *testing.T) { t.Parallel(); contractV2(t, c) })
		t.Run("v2 process not finished in time", func(t *testing.T) { t.Parallel(); contractV2Timeout(t, c) })
		t.Run("groupcache peer protocol", func(t *testing.T) { t.Parallel(); contractPeers(t, c) })
	})
	c.requireEveryOperation(t)
}

// TestOpenAPIDocument checks openapi.yaml itself: a valid OpenAPI 3.1
// document whose every operation is named and placed on a listener, and whose
// error code lists hold every code the service's source can answer.
func TestOpenAPIDocument(t *testing.T) {
	c := loadContract(t)
	if !strings.HasPrefix(c.doc.OpenAPI, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", c.doc.OpenAPI)
	}
	for _, path := range c.doc.Paths.InMatchingOrder() {
		item := c.doc.Paths.Value(path)
		for method, op := range item.Operations() {
			if op.OperationID == "" || op.Summary == "" || len(op.Tags) == 0 {
				t.Errorf("%s %s: want operationId, summary and tags", method, path)
			}
			for _, l := range c.listeners(item, op) {
				if l != "public" && l != "internal" {
					t.Errorf("%s %s: x-listener %q, want public or internal", method, path, l)
				}
			}
			if len(c.listeners(item, op)) == 0 {
				t.Errorf("%s %s: no server with x-listener", method, path)
			}
		}
	}
	for _, check := range []struct {
		schema, source string
		codes          func(*testing.T, string) []string
	}{
		{"ErrorCode", "../../proxy", apiErrorCodes},
		{"JobErrorCode", "../../ingest/errors.go", ingestCodes},
	} {
		enum := map[string]bool{}
		if s := c.doc.Components.Schemas[check.schema]; s != nil && s.Value != nil {
			for _, v := range s.Value.Enum {
				enum[fmt.Sprint(v)] = true
			}
		}
		codes := check.codes(t, check.source)
		if len(codes) < 10 {
			t.Fatalf("found %d error codes in %s, want the whole table (has the source changed shape?)", len(codes), check.source)
		}
		for _, code := range codes {
			if !enum[code] {
				t.Errorf("%s can answer error code %q, missing from %s in openapi.yaml", check.source, code, check.schema)
			}
		}
	}
}

const contractAdminToken = "contract-admin-token"

// contractOrigin is the ALLOW_ORIGINS of the v1 service (the v2 one allows "*").
const contractOrigin = "https://shop.example.com"

var contractAdmin = map[string]string{"Authorization": "Bearer " + contractAdminToken}

const contractProcessToken = "contract-process-token-0002"

func onPublic(svc *service, method, path string) specCall {
	return specCall{base: svc.base, method: method, path: path}
}

func onInternal(svc *service, method, path string) specCall {
	return specCall{base: svc.internal, internal: true, method: method, path: path}
}

func (r specCall) with(header map[string]string, body string) specCall {
	r.header, r.body = header, []byte(body)
	return r
}

func (r specCall) invalid() specCall { r.breaksSpec = true; return r }

var jsonContentType = map[string]string{"Content-Type": "application/json"}

func processBody(bookID, imageURL string) string {
	return fmt.Sprintf(`{"book_id":%q,"image_url":%q}`, bookID, imageURL)
}

// signedPath signs a path (with its query) like a frontend would.
func signedPath(t *testing.T, svc *service, p string) string {
	t.Helper()
	u, err := svc.signer.SignedURL(p)
	if err != nil {
		t.Fatalf("SignedURL(%q): %v", p, err)
	}
	return u
}

// expect sends a validated request and checks the status and error code.
func (c *contract) expect(t *testing.T, r specCall, want int, code string) (*http.Response, []byte) {
	t.Helper()
	resp, body := c.send(t, r)
	if resp.StatusCode != want {
		t.Errorf("%s %s = %d %s, want %d", r.method, r.path, resp.StatusCode, clipBody(body), want)
	}
	if code != "" && r.method != http.MethodHead {
		var e struct{ Error struct{ Code string } }
		if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != code {
			t.Errorf("%s %s: error code %q (%v), want %q", r.method, r.path, e.Error.Code, err, code)
		}
	}
	return resp, body
}

type contractCase struct {
	name string
	req  specCall
	want int
	code string
}

func (c *contract) table(t *testing.T, cases []contractCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { c.expect(t, tc.req, tc.want, tc.code) })
	}
}

func contractHealth(t *testing.T, c *contract, svc *service) {
	for _, r := range []specCall{onPublic(svc, "GET", "/health"), onInternal(svc, "GET", "/health")} {
		if _, body := c.expect(t, r, 200, ""); strings.TrimSpace(string(body)) != `{"status":"ok","stub":false}` {
			t.Errorf("%s /health = %s, want the frozen body", r.base, body)
		}
		c.expect(t, r.with(map[string]string{"X-Request-Id": "contract-1"}, ""), 200, "")
	}
	for _, r := range []specCall{onPublic(svc, "GET", "/ready"), onInternal(svc, "GET", "/ready")} {
		c.expect(t, r, 200, "")
	}
	if _, body := c.expect(t, onInternal(svc, "GET", "/metrics"), 200, ""); !strings.Contains(string(body), "covers_http_requests_total") {
		t.Errorf("/metrics has no covers_http_requests_total")
	}
}

func contractProcess(t *testing.T, c *contract, svc *service, src *source) {
	img := src.add("/contract.jpg", readTestdata(t, "photo-1600x2400-baseline.jpg"))
	resp, body := c.expect(t, onPublic(svc, "POST", "/process").with(jsonContentType, processBody("C1", img)), 202, "")
	var acc struct {
		JobID string `json:"job_id"`
	}
	_ = json.Unmarshal(body, &acc)
	if loc := resp.Header.Get("Location"); loc != "/jobs/"+acc.JobID {
		t.Errorf("Location = %q, want /jobs/%s", loc, acc.JobID)
	}
	svc.waitJob(acc.JobID)
	if _, body := c.expect(t, onPublic(svc, "GET", "/jobs/"+acc.JobID), 200, ""); !strings.Contains(string(body), `"succeeded"`) {
		t.Errorf("job = %s, want succeeded", body)
	}
	_, body = c.expect(t, onInternal(svc, "POST", "/process?refresh=true").with(jsonContentType, processBody("C1", img)), 202, "")
	_ = json.Unmarshal(body, &acc)
	svc.waitJob(acc.JobID)
	c.expect(t, onInternal(svc, "GET", "/jobs/"+acc.JobID), 200, "")

	_, body = c.expect(t, onPublic(svc, "POST", "/process").with(jsonContentType, processBody("C1BAD", src.add("/text.txt", []byte("plain text, not an image")))), 202, "")
	_ = json.Unmarshal(body, &acc)
	svc.waitJob(acc.JobID)
	if _, body := c.expect(t, onPublic(svc, "GET", "/jobs/"+acc.JobID), 200, ""); !strings.Contains(string(body), `"not_an_image"`) {
		t.Errorf("failed job = %s, want error not_an_image", body)
	}

	huge := processBody("C1", "http://127.0.0.1/"+strings.Repeat("a", 70<<10))
	c.table(t, []contractCase{
		{"415 text/plain", onPublic(svc, "POST", "/process").with(map[string]string{"Content-Type": "text/plain"}, processBody("C1", img)).invalid(), 415, "unsupported_media_type"},
		{"400 bad JSON", onPublic(svc, "POST", "/process").with(jsonContentType, `{"book_id":`).invalid(), 400, "bad_json"},
		{"400 missing field", onPublic(svc, "POST", "/process").with(jsonContentType, `{"book_id":"C1"}`).invalid(), 400, "missing_field"},
		{"400 invalid book id", onPublic(svc, "POST", "/process").with(jsonContentType, processBody(".C1", img)).invalid(), 400, "invalid_book_id"},
		{"400 invalid URL", onPublic(svc, "POST", "/process").with(jsonContentType, processBody("C1", "ftp://127.0.0.1/x.jpg")), 400, "invalid_url"},
		{"400 blocked address", onInternal(svc, "POST", "/process").with(jsonContentType, processBody("C1", "http://127.0.0.2:9/x.jpg")), 400, "blocked_address"},
		{"413 body over 64 KiB", onPublic(svc, "POST", "/process").with(jsonContentType, huge).invalid(), 413, "body_too_large"},
		{"404 unknown job", onPublic(svc, "GET", "/jobs/"+strings.Repeat("0", 32)), 404, "job_not_found"},
		{"404 malformed job id", onInternal(svc, "GET", "/jobs/not-a-job").invalid(), 404, "job_not_found"},
	})
}

// contractProcessTokens: with PROCESS_TOKENS set, both write routes on both
// listeners answer 401 without a bearer token and 403 with a wrong one,
// and a listed token gets the frozen 202 body.
func contractProcessTokens(t *testing.T, c *contract) {
	src := newSource(t)
	svc := startService(t, localStore(t), src, map[string]string{"PROCESS_TOKENS": "contract-first-token-0001, " + contractProcessToken})
	img := src.add("/tok.jpg", readTestdata(t, "photo-1600x2400-baseline.jpg"))
	wrong := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer contract-wrong-token-0001"}
	auth := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + contractProcessToken}
	var cases []contractCase
	for _, path := range []string{"/process", "/v2/process"} {
		for _, on := range []func(*service, string, string) specCall{onPublic, onInternal} {
			call := on(svc, "POST", path)
			where := map[bool]string{false: "public", true: "internal"}[call.internal]
			cases = append(cases,
				contractCase{where + " " + path + " 401 without token", call.with(jsonContentType, processBody("T1", img)), 401, "unauthorized"},
				contractCase{where + " " + path + " 403 wrong token", call.with(wrong, processBody("T1", img)), 403, "forbidden"})
		}
	}
	c.table(t, cases)
	_, body := c.expect(t, onPublic(svc, "POST", "/process").with(auth, processBody("T1", img)), 202, "")
	var acc map[string]any
	if err := json.Unmarshal(body, &acc); err != nil || len(acc) != 3 || acc["message"] != "accepted" || acc["stub"] != false || acc["job_id"] == "" {
		t.Errorf("202 with a token = %s, want the frozen body", body)
	}
	svc.waitJob(fmt.Sprint(acc["job_id"]))
	c.expect(t, onInternal(svc, "POST", "/v2/process").with(auth, processBody("T1", img)), 200, "")
}

func contractCovers(t *testing.T, c *contract, svc *service, src *source) {
	version := svc.warm("C2", src.add("/c2.jpg", readTestdata(t, "photo-1600x2400-baseline.jpg"))).Version
	get := func(p string) specCall { return onPublic(svc, "GET", signedPath(t, svc, p)) }
	head := func(p string) specCall { return onPublic(svc, "HEAD", signedPath(t, svc, p)) }

	resp, body := c.expect(t, get("/covers/C2/medium.webp"), 200, "")
	if info, err := transform.Probe(body, 0); err != nil || info.Type != "webp" || info.Width != 320 || info.Height != 480 {
		t.Errorf("medium.webp = %s %dx%d (%v), want webp 320x480", info.Type, info.Width, info.Height, err)
	}
	etag := resp.Header.Get("ETag")
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "stale-while-revalidate") {
		t.Errorf("Cache-Control without v = %q", cc)
	}
	if resp, _ := c.expect(t, get("/covers/C2/medium.webp?v="+version), 200, ""); !strings.HasSuffix(resp.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("Cache-Control with the current v = %q, want immutable", resp.Header.Get("Cache-Control"))
	}
	exp := fmt.Sprint(time.Now().Add(time.Hour).Unix())
	if resp, _ := c.expect(t, get("/covers/C2/320x480.avif?exp="+exp+"&v="+version), 200, ""); strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("Cache-Control with exp = %q, want no immutable", resp.Header.Get("Cache-Control"))
	}
	if _, body := c.expect(t, get("/covers/C2/large.jpg"), 200, ""); decodeJPEG(body) != nil {
		t.Errorf("large.jpg = %v, want a JPEG", decodeJPEG(body))
	}
	if _, body := c.expect(t, get("/covers/C2/600x315f.jpg"), 200, ""); decodeJPEG(body) != nil {
		t.Errorf("600x315f.jpg = %v, want a JPEG", decodeJPEG(body))
	}
	if resp, _ := c.expect(t, head("/covers/C2/medium.webp"), 200, ""); resp.Header.Get("Content-Length") != fmt.Sprint(len(body)) {
		t.Errorf("HEAD Content-Length = %q, want %d", resp.Header.Get("Content-Length"), len(body))
	}
	inm := map[string]string{"If-None-Match": etag}
	c.expect(t, get("/covers/C2/medium.webp").with(inm, ""), 304, "")
	c.expect(t, head("/covers/C2/medium.webp").with(inm, ""), 304, "")
	if resp, _ := c.expect(t, get("/covers/NOCOVER/160.webp"), 200, ""); resp.Header.Get("X-Cover-Placeholder") != "true" {
		t.Errorf("book without a cover: X-Cover-Placeholder = %q", resp.Header.Get("X-Cover-Placeholder"))
	}

	// CORS: the listed origin is echoed on 200, 304 and errors, every answer
	// varies on Origin, and preflights are 204 with or without the CORS
	// headers.
	fromShop := map[string]string{"Origin": contractOrigin}
	for _, call := range []struct {
		name   string
		call   specCall
		status int
		code   string
	}{
		{"200", get("/covers/C2/medium.webp").with(fromShop, ""), 200, ""},
		{"304", get("/covers/C2/medium.webp").with(map[string]string{"Origin": contractOrigin, "If-None-Match": etag}, ""), 304, ""},
		{"HEAD", head("/covers/C2/medium.webp").with(fromShop, ""), 200, ""},
		{"400", get("/covers/C2/huge.webp").with(fromShop, ""), 400, "bad_size"},
	} {
		resp, _ := c.expect(t, call.call, call.status, call.code)
		if resp.Header.Get("Access-Control-Allow-Origin") != contractOrigin || resp.Header.Get("Vary") != "Origin" {
			t.Errorf("CORS %s: Access-Control-Allow-Origin %q, Vary %q; want %s, Origin", call.name,
				resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Vary"), contractOrigin)
		}
	}
	if resp, _ := c.expect(t, get("/covers/C2/medium.webp").with(map[string]string{"Origin": "https://other.example.com"}, ""), 200, ""); resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Vary") != "Origin" {
		t.Errorf("CORS from an origin not listed: Access-Control-Allow-Origin %q, Vary %q; want none, Origin",
			resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Vary"))
	}
	preflight := func(origin string) specCall {
		return onPublic(svc, "OPTIONS", signedPath(t, svc, "/covers/C2/medium.webp")).with(map[string]string{
			"Origin": origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "if-none-match"}, "")
	}
	if resp, _ := c.expect(t, preflight(contractOrigin), 204, ""); resp.Header.Get("Access-Control-Allow-Origin") != contractOrigin || resp.Header.Get("Access-Control-Allow-Methods") != "GET, HEAD" {
		t.Errorf("preflight from %s: %v; want Access-Control-Allow-Origin and -Methods", contractOrigin, resp.Header)
	}
	if resp, _ := c.expect(t, preflight("https://other.example.com"), 204, ""); resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Access-Control-Allow-Methods") != "" {
		t.Errorf("preflight from an origin not listed: %v; want no CORS headers", resp.Header)
	}

	// A stored original that cannot be rendered.
	bad := []byte("this is not an image at all")
	if err := svc.store.Put(t.Context(), cover.OriginalKey("BROKEN", "0123456789ab"), bad, "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	if err := svc.app.manifests.Put(t.Context(), cover.Manifest{BookID: "BROKEN", Version: "0123456789ab", ContentType: "image/jpeg",
		Width: 100, Height: 150, Bytes: int64(len(bad)), UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	c.table(t, []contractCase{
		{"400 unknown preset", get("/covers/C2/huge.webp"), 400, "bad_size"},
		{"400 width below 16", get("/covers/C2/15.webp"), 400, "bad_size"},
		{"400 leading zero", get("/covers/C2/0320.webp").invalid(), 400, "bad_size"},
		{"400 fit without a box", get("/covers/C2/320f.webp").invalid(), 400, "bad_size"},
		{"400 format", get("/covers/C2/320.png").invalid(), 400, "bad_format"},
		{"400 unknown parameter", get("/covers/C2/320.webp?foo=1"), 400, "bad_query"},
		{"400 exp not a number", get("/covers/C2/320.webp?exp=soon").invalid(), 400, "bad_expiry"},
		{"400 book id", get("/covers/.C2/320.webp").invalid(), 400, "invalid_book_id"},
		{"HEAD 400", head("/covers/C2/huge.webp"), 400, ""},
		{"403 missing signature", onPublic(svc, "GET", "/covers/C2/320.webp").invalid(), 403, "missing_signature"},
		{"403 bad signature", onPublic(svc, "GET", "/covers/C2/320.webp?sig="+strings.Repeat("A", 43)), 403, "bad_signature"},
		{"HEAD 403", onPublic(svc, "HEAD", "/covers/C2/320.webp?sig="+strings.Repeat("A", 43)), 403, ""},
		{"410 expired", get("/covers/C2/320.webp?exp=1000"), 410, "expired"},
		{"HEAD 410", head("/covers/C2/320.webp?exp=1000"), 410, ""},
		{"422 unusable original", get("/covers/BROKEN/320.webp"), 422, "unusable_original"},
	})
}

func contractPurge(t *testing.T, c *contract, svc *service, src *source) {
	svc.warm("C3", src.add("/c3.jpg", readTestdata(t, "photo-1600x2400-baseline.jpg")))
	c.expect(t, onPublic(svc, "GET", signedPath(t, svc, "/covers/C3/thumb.webp")), 200, "")
	c.table(t, []contractCase{
		{"401 without token", onPublic(svc, "DELETE", "/covers/C3").invalid(), 401, "unauthorized"},
		{"403 wrong token", onPublic(svc, "DELETE", "/covers/C3").with(map[string]string{"Authorization": "Bearer wrong"}, ""), 403, "forbidden"},
		{"internal 401 without token", onInternal(svc, "DELETE", "/covers/C3").invalid(), 401, "unauthorized"},
		{"internal 403 wrong token", onInternal(svc, "DELETE", "/covers/C3").with(map[string]string{"Authorization": "Bearer wrong"}, ""), 403, "forbidden"},
		{"400 book id", onInternal(svc, "DELETE", "/covers/.C3").with(contractAdmin, "").invalid(), 400, "invalid_book_id"},
	})
	_, body := c.expect(t, onPublic(svc, "DELETE", "/covers/C3").with(map[string]string{"Authorization": "Bearer " + contractAdminToken}, ""), 200, "")
	var out struct {
		DeletedObjects int      `json:"deleted_objects"`
		PurgePaths     []string `json:"purge_paths"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.DeletedObjects < 3 || !slices.Contains(out.PurgePaths, "/covers/C3/thumb.webp") {
		t.Errorf("purge = %s (%v), want manifest, original and variant deleted and thumb.webp listed", body, err)
	}
	c.expect(t, onInternal(svc, "DELETE", "/covers/C3").with(contractAdmin, ""), 200, "")
}

// contractUnserved: an operation declared on one listener only is not
// served on the other (404 or 405 there).
func contractUnserved(t *testing.T, c *contract, svc *service) {
	fill := strings.NewReplacer("{book_id}", "U1", "{file}", "320.webp", "{job_id}", strings.Repeat("0", 32), "{group}", "covers", "{key}", "x")
	for _, path := range c.doc.Paths.InMatchingOrder() {
		item := c.doc.Paths.Value(path)
		for method, op := range item.Operations() {
			ls := c.listeners(item, op)
			for listener, base := range map[string]string{"public": svc.base, "internal": svc.internal} {
				if slices.Contains(ls, listener) {
					continue
				}
				resp, body := do(t, method, base+fill.Replace(path), nil)
				if resp.StatusCode != 404 && resp.StatusCode != 405 {
					t.Errorf("%s %s on the %s listener = %d %s, want 404 or 405 (openapi.yaml declares it on %v only)", method, path, listener, resp.StatusCode, clipBody(body), ls)
				}
			}
		}
	}
}

func contractStoreDown(t *testing.T, c *contract) {
	svc := startService(t, downStore{localStore(t)}, nil, nil)
	for _, r := range []specCall{onPublic(svc, "GET", "/ready"), onInternal(svc, "GET", "/ready")} {
		if _, body := c.expect(t, r, 200, ""); !strings.Contains(string(body), `"degraded"`) || !strings.Contains(string(body), `"object_store":"unreachable"`) {
			t.Errorf("/ready with the store down = %s, want 200 degraded with the failed check", body)
		}
	}
	c.expect(t, onPublic(svc, "GET", signedPath(t, svc, "/covers/D1/320.webp")), 503, "storage_unavailable")
	c.expect(t, onPublic(svc, "HEAD", signedPath(t, svc, "/covers/D1/320.webp")), 503, "")
	c.expect(t, onPublic(svc, "GET", signedPath(t, svc, "/covers/D1/meta.json")), 503, "storage_unavailable")
	c.expect(t, onPublic(svc, "GET", "/jobs/"+strings.Repeat("0", 32)), 503, "storage_unavailable")
}

func contractDraining(t *testing.T, c *contract) {
	svc := startService(t, localStore(t), nil, nil)
	svc.app.draining.Store(true)
	for _, r := range []specCall{onPublic(svc, "GET", "/ready"), onInternal(svc, "GET", "/ready")} {
		if _, body := c.expect(t, r, 503, ""); !strings.Contains(string(body), `"draining"`) {
			t.Errorf("/ready while draining = %s", body)
		}
	}
	c.expect(t, onPublic(svc, "GET", "/health"), 200, "")
}

func contractNoPlaceholders(t *testing.T, c *contract) {
	svc := startService(t, localStore(t), nil, map[string]string{"PLACEHOLDERS": "false"})
	c.expect(t, onPublic(svc, "GET", signedPath(t, svc, "/covers/NOCOVER/320.webp")), 404, "no_cover")
	c.expect(t, onPublic(svc, "HEAD", signedPath(t, svc, "/covers/NOCOVER/320.webp")), 404, "")
}

// contractMeta is the body of POST /v2/process (with job_id) and of meta.json.
type contractMeta struct {
	JobID     string                       `json:"job_id"`
	BookID    string                       `json:"book_id"`
	Version   string                       `json:"version"`
	SourceURL string                       `json:"source_url"`
	Width     int                          `json:"width"`
	Height    int                          `json:"height"`
	Format    string                       `json:"format"`
	Bytes     int                          `json:"bytes"`
	LQIP      string                       `json:"lqip"`
	Covers    map[string]map[string]string `json:"covers"`
}

func contractV2(t *testing.T, c *contract) {
	src := newSource(t)
	svc := startService(t, localStore(t), src, map[string]string{"ALLOW_ORIGINS": "*"})
	original := readTestdata(t, "photo-1600x2400-baseline.jpg")
	img := src.add("/v2.jpg", original)
	t.Run("failures", func(t *testing.T) {
		post := func(body string) specCall { return onPublic(svc, "POST", "/v2/process").with(jsonContentType, body) }
		c.table(t, []contractCase{
			{"422 not an image", post(processBody("V2BAD", src.add("/v2.txt", []byte("plain text, not an image")))), 422, "not_an_image"},
			{"502 source answered 404", post(processBody("V2GONE", src.srv.URL+"/missing.jpg")), 502, "source_rejected"},
			{"400 blocked address", post(processBody("V2", "http://127.0.0.2:9/x.jpg")), 400, "blocked_address"},
			{"400 bad JSON", post(`{"book_id":`).invalid(), 400, "bad_json"},
			{"415 text/plain", onPublic(svc, "POST", "/v2/process").with(map[string]string{"Content-Type": "text/plain"}, processBody("V2", img)).invalid(), 415, "unsupported_media_type"},
			{"413 body over 64 KiB", post(processBody("V2", "http://127.0.0.1/"+strings.Repeat("a", 70<<10))).invalid(), 413, "body_too_large"},
		})
		_, body := c.expect(t, post(processBody("V2BAD2", src.add("/v2b.txt", []byte("still not an image")))), 422, "not_an_image")
		var f struct {
			JobID string `json:"job_id"`
		}
		if _ = json.Unmarshal(body, &f); f.JobID == "" {
			t.Errorf("failed v2 job = %s, want job_id", body)
		} else {
			c.expect(t, onPublic(svc, "GET", "/jobs/"+f.JobID), 200, "")
		}
	})
	t.Run("meta.json errors", func(t *testing.T) {
		get := func(p string) specCall { return onPublic(svc, "GET", signedPath(t, svc, p)) }
		c.table(t, []contractCase{
			{"403 missing signature", onPublic(svc, "GET", "/covers/V2/meta.json").invalid(), 403, "missing_signature"},
			{"HEAD 403", onPublic(svc, "HEAD", "/covers/V2/meta.json?sig="+strings.Repeat("A", 43)), 403, ""},
			{"410 expired", get("/covers/V2/meta.json?exp=1000"), 410, "expired"},
			{"400 unknown parameter", get("/covers/V2/meta.json?foo=1"), 400, "bad_query"},
			{"404 book without a cover", get("/covers/NOCOVER/meta.json"), 404, "no_cover"},
			{"HEAD 404", onPublic(svc, "HEAD", signedPath(t, svc, "/covers/NOCOVER/meta.json")), 404, ""},
		})
		// ALLOW_ORIGINS=*: every answer, the 404 a page reads no_cover from
		// included, lets any origin read; the preflight says so too.
		if resp, _ := c.expect(t, onPublic(svc, "GET", signedPath(t, svc, "/covers/NOCOVER/meta.json")).with(map[string]string{"Origin": contractOrigin}, ""), 404, "no_cover"); resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Vary") != "" {
			t.Errorf("meta.json 404 with ALLOW_ORIGINS=*: Access-Control-Allow-Origin %q, Vary %q; want *, none", resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Vary"))
		}
		pre := onPublic(svc, "OPTIONS", signedPath(t, svc, "/covers/V2/meta.json")).with(map[string]string{"Origin": contractOrigin, "Access-Control-Request-Method": "GET"}, "")
		if resp, _ := c.expect(t, pre, 204, ""); resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Access-Control-Max-Age") != "86400" {
			t.Errorf("meta.json preflight with ALLOW_ORIGINS=*: %v; want Access-Control-Allow-Origin * and Max-Age 86400", resp.Header)
		}
	})
	resp, body := c.expect(t, onPublic(svc, "POST", "/v2/process").with(jsonContentType, processBody("V2", img)), 200, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v2/process must succeed before its result can be checked")
	}
	v2body := body
	var got contractMeta
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("POST /v2/process = %s: %v", clipBody(body), err)
	}
	if got.BookID != "V2" || got.SourceURL != img || got.Width != 1600 || got.Height != 2400 || got.Format != "jpeg" || got.Bytes != len(original) {
		t.Errorf("v2 result = %+v, want V2 %s 1600x2400 jpeg %d bytes", got, img, len(original))
	}
	if names := slices.Sorted(maps.Keys(got.Covers)); !slices.Equal(names, slices.Sorted(maps.Keys(svc.app.cfg.Proxy.Sizes))) {
		t.Errorf("covers presets = %v, want every COVER_SIZES preset", names)
	}
	if lqip, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(got.LQIP, "data:image/webp;base64,")); err != nil || decodeWebP(lqip) != nil {
		t.Errorf("lqip does not decode as a WebP: %v", err)
	}
	for _, want := range []struct {
		preset, format string
		width          int
	}{{"thumb", "webp", 96}, {"medium", "avif", 320}} {
		p := got.Covers[want.preset][want.format]
		if !strings.Contains(p, "v="+got.Version) {
			t.Errorf("covers.%s.%s = %q, want v=%s", want.preset, want.format, p, got.Version)
		}
		_, img := c.expect(t, onPublic(svc, "GET", p), 200, "")
		if info, err := transform.Probe(img, 0); err != nil || string(info.Type) != want.format || info.Width != want.width {
			t.Errorf("GET covers.%s.%s = %s %d wide (%v), want %s %d wide", want.preset, want.format, info.Type, info.Width, err, want.format, want.width)
		}
	}
	c.expect(t, onInternal(svc, "POST", "/v2/process").with(jsonContentType, processBody("V2", img)), 200, "")

	t.Run("meta.json", func(t *testing.T) {
		get := func(p string) specCall { return onPublic(svc, "GET", signedPath(t, svc, p)) }
		resp, body := c.expect(t, get("/covers/V2/meta.json"), 200, "")
		var meta, want map[string]any
		_ = json.Unmarshal(body, &meta)
		_ = json.Unmarshal(v2body, &want)
		delete(want, "job_id")
		if !reflect.DeepEqual(meta, want) {
			t.Errorf("meta.json = %s\nwant the v2 result without job_id: %s", body, v2body)
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "stale-while-revalidate") {
			t.Errorf("meta.json without v: Cache-Control = %q", cc)
		}
		if resp, _ := c.expect(t, get("/covers/V2/meta.json?v="+got.Version), 200, ""); !strings.HasSuffix(resp.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("meta.json with the current v: Cache-Control = %q", resp.Header.Get("Cache-Control"))
		}
		inm := map[string]string{"If-None-Match": resp.Header.Get("ETag")}
		c.expect(t, get("/covers/V2/meta.json").with(inm, ""), 304, "")
		c.expect(t, onPublic(svc, "HEAD", signedPath(t, svc, "/covers/V2/meta.json")), 200, "")
		c.expect(t, onPublic(svc, "HEAD", signedPath(t, svc, "/covers/V2/meta.json")).with(inm, ""), 304, "")
	})
}

// noOriginals is a store whose original writes fail passingly, so a job is
// retried and never finishes while the test looks.
type noOriginals struct{ cache.Store }

func (s noOriginals) Put(ctx context.Context, key string, data []byte, contentType string) error {
	if strings.HasPrefix(key, cover.ContentsPrefix()) && strings.HasSuffix(key, "/original") {
		return fmt.Errorf("put %s: %w", key, cache.ErrUnavailable)
	}
	return s.Store.Put(ctx, key, data, contentType)
}

func contractV2Timeout(t *testing.T, c *contract) {
	src := newSource(t)
	svc := startService(t, noOriginals{localStore(t)}, src, map[string]string{"PROCESS_TIMEOUT_SEC": "1"})
	img := src.add("/slow.jpg", readTestdata(t, "photo-1600x2400-baseline.jpg"))
	resp, body := c.expect(t, onPublic(svc, "POST", "/v2/process").with(jsonContentType, processBody("SLOW", img)), 504, "timeout")
	var f struct {
		JobID string `json:"job_id"`
	}
	_ = json.Unmarshal(body, &f)
	loc := resp.Header.Get("Location")
	if f.JobID == "" || loc != "/jobs/"+f.JobID {
		t.Fatalf("504 = %s with Location %q, want job_id and Location /jobs/{job_id}", body, loc)
	}
	if _, body := c.expect(t, onPublic(svc, "GET", loc), 200, ""); strings.Contains(string(body), `"succeeded"`) || strings.Contains(string(body), `"failed"`) {
		t.Errorf("job after a v2 timeout = %s, want it still queued or running", body)
	}
}

// contractPeers runs the real binary with groupcache peers on (one pool per
// process, so not in this test process) and asks it for a variant.
func contractPeers(t *testing.T, c *contract) {
	bin := replica.Build(t)
	data := t.TempDir()
	version := replica.Import(t, bin, map[string]string{"DATA_DIR": data, "IMAGE_SIGNING_KEYS": testKeyHex}, "PEER", "../../testdata/photo-1600x2400-baseline.jpg")
	in := replica.FreeAddr(t)
	const secret = "contract-peer-secret-0003"
	replica.Start(t, bin, map[string]string{"LISTEN_ADDR": replica.FreeAddr(t), "INTERNAL_ADDR": in, "GROUPCACHE_SELF": "http://" + in,
		"PEER_SECRET": secret,
		"DATA_DIR":    data, "IMAGE_SIGNING_KEYS": testKeyHex, "KAFKA_BROKERS": "", "PRERENDER": "", "LOG_LEVEL": "warn", "SHUTDOWN_DELAY": "0s"})
	// Stored by content: the variant key names the original's content.
	content := cover.ContentSum(readTestdata(t, "photo-1600x2400-baseline.jpg"))
	if version != cover.VersionOf(content) {
		t.Fatalf("import stored version %s, want %s", version, cover.VersionOf(content))
	}
	key := url.QueryEscape("@" + content + "/320.webp")
	peer := specCall{base: "http://" + in, internal: true, method: "GET", header: map[string]string{"X-Peer-Secret": secret}}
	peer.path = "/_groupcache/covers/" + key
	_, body := c.expect(t, peer, 200, "")
	var msg groupcachepb.GetResponse
	if err := proto.Unmarshal(body, protoadapt.MessageV2Of(&msg)); err != nil {
		t.Fatalf("peer answer is not a GetResponse: %v", err)
	}
	if info, err := transform.Probe(msg.GetValue(), 0); err != nil || info.Type != "webp" || info.Width != 320 {
		t.Errorf("peer value = %s %d wide (%v), want webp 320 wide", info.Type, info.Width, err)
	}
	at := func(path string, header map[string]string) specCall {
		return specCall{base: peer.base, internal: true, method: "GET", path: path, header: header}
	}
	c.table(t, []contractCase{
		{"404 no such group", at("/_groupcache/nosuchgroup/"+key, peer.header), 404, ""},
		{"401 without the secret", at(peer.path, nil), 401, ""},
		{"403 wrong secret", at(peer.path, map[string]string{"X-Peer-Secret": "contract-wrong-secret-0003"}), 403, ""},
		{"400 wider than 2048", at("/_groupcache/covers/"+url.QueryEscape("@"+content+"/4096.webp"), peer.header), 400, ""},
		{"400 unknown format", at("/_groupcache/covers/"+url.QueryEscape("@"+content+"/320.png"), peer.header), 400, ""},
		{"400 book key wider than 2048", at("/_groupcache/covers/"+url.QueryEscape("PEER/"+version+"/4096.webp"), peer.header), 400, ""},
		{"400 content key not a hash", at("/_groupcache/covers/"+url.QueryEscape("@"+version+"/320.webp"), peer.header), 400, ""},
	})
}
