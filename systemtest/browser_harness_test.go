package systemtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/internal/replica"
	"github.com/bookcovers/image-worker/internal/testenv"
)

// The browser test drives Debian's chromium through the Chrome DevTools
// Protocol over --remote-debugging-pipe: JSON messages, each ended by a NUL
// byte, on the browser's file descriptors 3 (commands in) and 4 (events and
// answers out). No port is opened, no websocket client is needed, and every
// console message and browser log entry arrives as an event with its level
// (--dump-dom cannot wait for fetches a script starts after the load event,
// and its stderr log does not say which console lines are errors).

// chromiumFlags keep the browser on loopback: no background networking,
// component updates, sync or QUIC (without them it calls Google hosts), a
// proxy that does not exist for anything but loopback (which Chromium never
// proxies), and no name resolution but of 127.0.0.1 (the test uses IP
// literals).
var chromiumFlags = []string{
	"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--disable-default-apps", "--disable-extensions", "--metrics-recording-only", "--no-default-browser-check",
	"--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
	"--force-device-scale-factor=1", "--window-size=1280,1024",
	"--remote-debugging-pipe",
}

// chromiumBinary finds Debian's chromium; without it the test skips, or
// fails under COVERS_REQUIRE_SERVERS=1 (make test installs it).
func chromiumBinary(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.Unavailable(t, "chromium not installed (apt-get install chromium); skipping the browser test")
	return ""
}

// cdpMessage is a DevTools message: an answer (ID set) or an event (Method).
type cdpMessage struct {
	ID        int64           `json:"id,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// browser is one headless chromium and one page in it.
type browser struct {
	cmd     *exec.Cmd
	in      *os.File // the browser's fd 3
	session string

	mu      sync.Mutex
	nextID  int64
	waiting map[int64]chan cdpMessage
	events  []cdpMessage // every event of the page's session, in order
	done    chan struct{}
}

// startBrowser runs chromium with a new, empty profile and attaches to a
// new blank page with the Runtime, Log and Page domains enabled. The
// browser is killed when the test ends.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	bin := chromiumBinary(t)
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{in: inW, waiting: map[int64]chan cdpMessage{}, done: make(chan struct{})}
	b.cmd = exec.Command(bin, append(chromiumFlags, "--user-data-dir="+t.TempDir(), "about:blank")...)
	b.cmd.ExtraFiles = []*os.File{inR, outW} // fds 3 and 4
	b.cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr := &strings.Builder{} // read only after Wait, which ends the copy into it
	b.cmd.Stderr = stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	inR.Close()
	outW.Close()
	t.Cleanup(func() {
		inW.Close()
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		_ = b.cmd.Wait()
		if t.Failed() {
			t.Logf("chromium stderr:\n%s", stderr.String())
		}
	})
	go b.read(outR)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		t.Fatal(err)
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached); err != nil {
		t.Fatal(err)
	}
	b.session = attached.SessionID
	for _, domain := range []string{"Runtime.enable", "Log.enable", "Page.enable"} {
		if err := b.call(ctx, b.session, domain, map[string]any{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// read dispatches the browser's messages until its pipe closes.
func (b *browser) read(out *os.File) {
	defer close(b.done)
	r := bufio.NewReaderSize(out, 1<<20)
	for {
		raw, err := r.ReadBytes(0)
		if err != nil {
			return
		}
		var m cdpMessage
		if json.Unmarshal(raw[:len(raw)-1], &m) != nil {
			continue
		}
		b.mu.Lock()
		if m.ID != 0 {
			if ch, ok := b.waiting[m.ID]; ok {
				ch <- m
				delete(b.waiting, m.ID)
			}
		} else if m.SessionID == b.session && b.session != "" {
			b.events = append(b.events, m)
		}
		b.mu.Unlock()
	}
}

// call sends one command (to the page's session, or the browser when
// session is "") and decodes its result into result.
func (b *browser) call(ctx context.Context, session, method string, params, result any) error {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpMessage, 1)
	b.waiting[id] = ch
	b.mu.Unlock()
	p, err := json.Marshal(params)
	if err != nil {
		return err
	}
	msg, err := json.Marshal(cdpMessage{ID: id, SessionID: session, Method: method, Params: p})
	if err != nil {
		return err
	}
	if _, err := b.in.Write(append(msg, 0)); err != nil {
		return fmt.Errorf("cdp %s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("cdp %s: %d %s", method, m.Error.Code, m.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-b.done:
		return fmt.Errorf("cdp %s: the browser exited", method)
	case <-ctx.Done():
		return fmt.Errorf("cdp %s: %w", method, ctx.Err())
	}
}

// navigate opens url in the page.
func (b *browser) navigate(ctx context.Context, url string) error {
	var res struct {
		ErrorText string `json:"errorText"`
	}
	if err := b.call(ctx, b.session, "Page.navigate", map[string]any{"url": url}, &res); err != nil {
		return err
	}
	if res.ErrorText != "" {
		return fmt.Errorf("navigate %s: %s", url, res.ErrorText)
	}
	return nil
}

// evaluate returns the string value of a JavaScript expression in the page.
func (b *browser) evaluate(ctx context.Context, expr string) (string, error) {
	var res struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := b.call(ctx, b.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res); err != nil {
		return "", err
	}
	if res.ExceptionDetails != nil {
		return "", errors.New("evaluate: " + res.ExceptionDetails.Text)
	}
	s, _ := res.Result.Value.(string)
	return s, nil
}

// consoleErrors lists every console.error (and assert), uncaught exception
// and browser log entry at level error the page has produced so far.
func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, e := range b.events {
		switch e.Method {
		case "Runtime.consoleAPICalled":
			var p struct {
				Type string `json:"type"`
				Args []struct {
					Value       any    `json:"value"`
					Description string `json:"description"`
				} `json:"args"`
			}
			if json.Unmarshal(e.Params, &p) == nil && (p.Type == "error" || p.Type == "assert") {
				parts := make([]string, 0, len(p.Args))
				for _, a := range p.Args {
					parts = append(parts, fmt.Sprint(a.Value)+a.Description)
				}
				out = append(out, "console."+p.Type+": "+strings.Join(parts, " "))
			}
		case "Runtime.exceptionThrown":
			out = append(out, "exception: "+string(e.Params))
		case "Log.entryAdded":
			var p struct {
				Entry struct {
					Level, Source, Text, URL string
				} `json:"entry"`
			}
			if json.Unmarshal(e.Params, &p) == nil && p.Entry.Level == "error" {
				out = append(out, "log "+p.Entry.Source+": "+p.Entry.Text+" "+p.Entry.URL)
			}
		}
	}
	return out
}

// serveDemoPage imports the sample covers, serves a page origin on loopback,
// starts the binary with that origin in ALLOW_ORIGINS, generates the demo
// page against it with node and scripts/demo-page.mjs (as run-dev.sh does),
// and returns the page's URL.
func serveDemoPage(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Unavailable(t, "node not installed: the demo page is generated with the JS package")
	}
	bin := replica.Build(t)
	dataDir := t.TempDir()
	var books []string
	for _, b := range demoBooks {
		replica.Import(t, bin, localKeys(dataDir), b.id, testdata+b.file)
		books = append(books, b.id)
	}

	// The page's own origin: a loopback server that serves the one file.
	pagePath := filepath.Join(t.TempDir(), "demo.html")
	pages := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/demo.html" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		http.ServeFile(w, r, pagePath)
	}))
	t.Cleanup(pages.Close)

	env := localKeys(dataDir)
	for k, v := range map[string]string{"KAFKA_BROKERS": "", "PRERENDER": "", "LOG_LEVEL": "warn", "ALLOW_ORIGINS": pages.URL} {
		env[k] = v
	}
	origin := replica.Start(t, bin, env)

	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(testKeyHex+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	gen := exec.Command(node, "../scripts/demo-page.mjs", "--base", "http://"+origin.Public, "--key-file", keyFile,
		"--books", strings.Join(books, ","), "--placeholder", "no-such-book", "--out", pagePath)
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("node scripts/demo-page.mjs: %v\n%s", err, out)
	}
	return pages.URL + "/demo.html"
}
