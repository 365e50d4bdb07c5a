package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the binary's entry point in this process.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	code = run(context.Background(), args, lookup, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestCLIBehavesLikeOtherTools runs every subcommand with --help (exit 0,
// its usage line and every flag on stdout), with a bad flag (exit 2, one
// line on stderr naming the flag) and with missing arguments (exit 2).
func TestCLIBehavesLikeOtherTools(t *testing.T) {
	t.Parallel()
	flags := map[string][]string{
		"serve":         nil,
		"sign":          {"-ttl"},
		"import":        {"-book"},
		"health":        nil,
		"keygen":        nil,
		"redrive":       {"-max", "-since", "-until"},
		"backfill":      {"-concurrency", "-server", "-failures", "-refresh", "-progress-every"},
		"contact-sheet": {"-out", "-server", "-format", "-scale", "-palette"},
		"version":       nil,
	}
	missingArgs := map[string]bool{"sign": true, "import": true, "backfill": true, "contact-sheet": true}
	for _, u := range usages {
		t.Run(u.name, func(t *testing.T) {
			t.Parallel()
			for _, help := range []string{"--help", "-h"} {
				code, out, errOut := runCLI(t, nil, u.name, help)
				if code != 0 || !strings.HasPrefix(out, "usage: image-worker "+u.name) || errOut != "" {
					t.Errorf("%s %s: exit %d, stdout %q, stderr %q; want 0 and the usage on stdout", u.name, help, code, out, errOut)
				}
				for _, f := range flags[u.name] {
					if !strings.Contains(out, "  "+f+" ") && !strings.Contains(out, "  "+f+"\n") {
						t.Errorf("%s %s does not list the flag %s:\n%s", u.name, help, f, out)
					}
				}
			}
			code, out, errOut := runCLI(t, nil, u.name, "--no-such-flag")
			if code != 2 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "no-such-flag") {
				t.Errorf("%s --no-such-flag: exit %d, stdout %q, stderr %q; want 2 and one line naming the flag", u.name, code, out, errOut)
			}
			if missingArgs[u.name] {
				if code, _, errOut := runCLI(t, nil, u.name); code != 2 || !strings.Contains(errOut, "usage: image-worker "+u.name) {
					t.Errorf("%s with no arguments: exit %d, stderr %q; want 2 and the usage line", u.name, code, errOut)
				}
			}
		})
	}
	for _, args := range [][]string{{"nope"}, {"serve", "extra"}, {"keygen", "extra"}, {"version", "extra"}} {
		if code, _, errOut := runCLI(t, nil, args...); code != 2 || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line", args, code, errOut)
		}
	}
	for _, args := range [][]string{{"--help"}, {"help"}} {
		code, out, _ := runCLI(t, nil, args...)
		if code != 0 {
			t.Errorf("%v: exit %d, want 0", args, code)
		}
		for _, u := range usages {
			if !strings.Contains(out, "image-worker "+u.usage+"\n") {
				t.Errorf("%v does not list %q:\n%s", args, u.usage, out)
			}
		}
	}
}

func TestVersionPrintsTheBuild(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"version", "--version"} {
		code, out, _ := runCLI(t, nil, arg)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[0], "image-worker ") || !strings.HasPrefix(lines[1], "revision ") ||
			!strings.HasPrefix(lines[2], "go1.") || !strings.HasPrefix(lines[3], "libvips 8.") {
			t.Errorf("%s: exit %d, output %q; want the module version, revision, Go and libvips versions", arg, code, out)
		}
	}
}

// TestSignRefusesWhatTheServerRefuses: sign exits 2 with the code the
// server would answer for a path it refuses, and signs the rest.
func TestSignRefusesWhatTheServerRefuses(t *testing.T) {
	t.Parallel()
	env := map[string]string{"IMAGE_SIGNING_KEYS": testKeyHex, "KAFKA_BROKERS": ""}
	for path, code := range map[string]string{
		"/covers/B1/320.gif":                    "bad_format",
		"/covers/B1/320.webp?foo=1":             "bad_query",
		"/covers/B1/0320.webp":                  "bad_size",
		"/covers/B%31/320.webp":                 "non_canonical_url",
		"/covers//B1/320.webp":                  "non_canonical_url",
		"/covers/B1/320.webp?v=a&v=b":           "bad_query",
		"/covers/B1/320.webp?sig=abc":           "bad_query",
		"/covers/bad!id/320.webp":               "invalid_book_id",
		"/elsewhere/B1/320.webp":                "bad_path",
		"https://cdn.example/covers/B1/96.webp": "bad_path",
	} {
		got, _, errOut := runCLI(t, env, "sign", path)
		if got != 2 || !strings.Contains(errOut, ": "+code+": ") {
			t.Errorf("sign %s: exit %d, stderr %q; want 2 with code %s", path, got, errOut, code)
		}
	}
	for _, path := range []string{"/covers/B1/320.webp", "/covers/B1/thumb.avif?v=3f9a1c2b7d4e", "/covers/B1/320x480.webp"} {
		code, out, errOut := runCLI(t, env, "sign", path)
		if code != 0 || !strings.HasPrefix(out, path) || !strings.Contains(out, "sig=") {
			t.Errorf("sign %s: exit %d, stdout %q, stderr %q; want the signed path", path, code, out, errOut)
		}
	}
}

// TestImportNeedsNoSigningKey: import stores a cover without
// IMAGE_SIGNING_KEYS (it never signs or verifies a URL).
func TestImportNeedsNoSigningKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "cover.jpg")
	if err := os.WriteFile(file, readTestdata(t, "photo-1600x2400-baseline.jpg"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATA_DIR": filepath.Join(dir, "data"), "KAFKA_BROKERS": "", "LOG_LEVEL": "error"}
	code, out, errOut := runCLI(t, env, "import", "--book", "B1", file)
	if code != 0 || !strings.Contains(out, "imported "+file+" as book B1") {
		t.Errorf("import without IMAGE_SIGNING_KEYS: exit %d, stdout %q, stderr %q; want it imported", code, out, errOut)
	}
}
