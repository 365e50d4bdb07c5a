package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackfillServerSendsProcessToken: --server sends PROCESS_TOKEN (or the
// file PROCESS_TOKEN_FILE names) as the bearer token of POST /process; a
// service with PROCESS_TOKENS refuses the rows without it (unauthorized) or
// with another token (forbidden), and the token is never printed.
func TestBackfillServerSendsProcessToken(t *testing.T) {
	t.Parallel()
	const token = "backfill-process-token-0001"
	src := newSource(t)
	svc := startService(t, localStore(t), src, map[string]string{"PROCESS_TOKENS": token})
	img := src.add("/bt.jpg", readTestdata(t, "photo-1600x2400-baseline.jpg"))
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		env      map[string]string
		wantCode int
		failure  string // the row's failure code; "" = warmed
	}{
		{"no token", nil, 1, "unauthorized"},
		{"wrong token", map[string]string{"PROCESS_TOKEN": "backfill-wrong-token-0001"}, 1, "forbidden"},
		{"token", map[string]string{"PROCESS_TOKEN": token}, 0, ""},
		{"token file", map[string]string{"PROCESS_TOKEN_FILE": tokenFile}, 0, ""},
	}
	for i, c := range cases {
		input := filepath.Join(dir, fmt.Sprintf("in-%d.csv", i))
		writeTestFile(t, input, "book_id,image_url\nBT-1,"+img+"\n")
		code, stdout, stderr := runBackfillCmd(context.Background(), c.env, "--server", svc.base, input)
		if code != c.wantCode {
			t.Errorf("%s: backfill --server exited %d, want %d\nstdout: %s\nstderr: %s", c.name, code, c.wantCode, stdout, stderr)
		}
		if strings.Contains(stdout+stderr, token) {
			t.Errorf("%s: the token was printed:\n%s%s", c.name, stdout, stderr)
		}
		if c.failure == "" {
			if s := parseSummary(t, stdout); s.warmed != 1 {
				t.Errorf("%s: summary %+v, want 1 warmed", c.name, s)
			}
			continue
		}
		got := readFailures(t, strings.TrimSuffix(input, ".csv")+".failures.csv")
		if got["BT-1"] != c.failure {
			t.Errorf("%s: failures %v, want BT-1 %s", c.name, got, c.failure)
		}
	}
}
