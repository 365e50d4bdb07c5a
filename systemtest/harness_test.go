package systemtest

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/internal/replica"
	"github.com/bookcovers/image-worker/signing"
)

// testKeyHex is the key of the README's signature test vectors: the
// replicas here sign and verify with it.
const testKeyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// testdata is the repository's testdata directory, seen from this package.
const testdata = "../testdata/"

// baseline is the 1600x2400 photo most tests import as their cover.
const baseline = testdata + "photo-1600x2400-baseline.jpg"

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(testdata + name)
	if err != nil {
		t.Fatalf("read testdata: %v", err)
	}
	return b
}

// signerOf is a signer with keyHex as its only key; a bad key fails the test.
func signerOf(t *testing.T, keyHex string) *signing.Signer {
	t.Helper()
	keys, err := signing.ParseKeys(keyHex)
	s, errNew := signing.New(signing.Config{Keys: keys})
	if err := errors.Join(err, errNew); err != nil {
		t.Fatal(err)
	}
	return s
}

// localKeys is the environment of the import command (and the base of a
// replica's) on the local store in dataDir, with the test key.
func localKeys(dataDir string) map[string]string {
	return map[string]string{"DATA_DIR": dataDir, "IMAGE_SIGNING_KEYS": testKeyHex}
}

// importLocal imports the baseline photo as bookID into a new local store
// with the built binary, and returns the store's DATA_DIR and the cover's
// version.
func importLocal(t *testing.T, bin, bookID string) (dataDir, version string) {
	t.Helper()
	dataDir = t.TempDir()
	return dataDir, replica.Import(t, bin, localKeys(dataDir), bookID, baseline)
}

// httpGet sends a GET with the headers hdr and returns the status and the body;
// a transport error fails the test.
func httpGet(t *testing.T, u string, hdr map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatalf("NewRequest(GET %s): %v", u, err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// signedGetter returns a function that GETs a cover path, signed with the
// test key, from a replica's public port and returns the status (-1 when
// the replica does not answer).
func signedGetter(t *testing.T) func(r *replica.Replica, path string) int {
	signer := signerOf(t, testKeyHex)
	return func(r *replica.Replica, path string) int {
		resp, err := http.Get("http://" + r.Public + path + "?sig=" + signer.Sign(path, nil))
		if err != nil {
			return -1
		}
		resp.Body.Close()
		return resp.StatusCode
	}
}

// origin is where covers are fetched from: a server on loopback that
// answers each file after a fixed delay (0: at once), 404 for any other path.
type origin struct {
	srv   *httptest.Server
	mu    sync.Mutex
	files map[string][]byte
}

func newOrigin(t *testing.T, delay time.Duration) *origin {
	o := &origin{files: map[string][]byte{}}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		o.mu.Lock()
		b, ok := o.files[r.URL.Path]
		o.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

// add serves b at path and returns its URL.
func (o *origin) add(path string, b []byte) string {
	o.mu.Lock()
	o.files[path] = b
	o.mu.Unlock()
	return o.srv.URL + path
}

// hostPort is the origin's address, for SOURCE_ALLOW_PRIVATE_HOSTS.
func (o *origin) hostPort() string { return strings.TrimPrefix(o.srv.URL, "http://") }
