package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestConfigTokens: PROCESS_TOKENS, ADMIN_TOKEN and PEER_SECRET come from
// the variable or from the file its _FILE variant names (the file wins),
// PROCESS_TOKENS splits on commas, and a bad value is refused by name
// without echoing it.
func TestConfigTokens(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const tok1, tok2 = "process-token-from-file-0001", "process-token-from-file-0002"
	tokensFile := write("tokens", tok1+","+tok2+"\n")
	adminFile := write("admin", "admin-token-from-file\n")
	peerFile := write("peer", "peer-secret-from-file-0123\n")
	cases := []struct {
		name        string
		env         map[string]string
		tokens      []string
		admin, peer string
		errNames    []string // variables the error must name
	}{
		{"unset", nil, nil, "", "", nil},
		{"from the environment", map[string]string{"PROCESS_TOKENS": tok1 + ", " + tok2, "ADMIN_TOKEN": "admin-env", "PEER_SECRET": "peer-secret-env-0123456"},
			[]string{tok1, tok2}, "admin-env", "peer-secret-env-0123456", nil},
		{"from files", map[string]string{"PROCESS_TOKENS_FILE": tokensFile, "ADMIN_TOKEN_FILE": adminFile, "PEER_SECRET_FILE": peerFile},
			[]string{tok1, tok2}, "admin-token-from-file", "peer-secret-from-file-0123", nil},
		{"file wins over the variable", map[string]string{"PROCESS_TOKENS": "process-token-from-env-0001", "PROCESS_TOKENS_FILE": tokensFile},
			[]string{tok1, tok2}, "", "", nil},
		{"missing file", map[string]string{"PROCESS_TOKENS_FILE": filepath.Join(dir, "nope"), "PEER_SECRET_FILE": filepath.Join(dir, "nope")},
			nil, "", "", []string{"PROCESS_TOKENS_FILE", "PEER_SECRET_FILE"}},
		{"placeholder values", map[string]string{"PROCESS_TOKENS": "REPLACE ME with openssl rand -hex 32", "PEER_SECRET": "REPLACE ME too"},
			nil, "", "", []string{"PROCESS_TOKENS", "PEER_SECRET"}},
		{"short token", map[string]string{"PROCESS_TOKENS": tok1 + ",tiny-token"}, nil, "", "", []string{"PROCESS_TOKENS: token 2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"IMAGE_SIGNING_KEYS": testKeyHex, "GROUPCACHE_SELF": "http://127.0.0.1:8081"}
			for k, v := range c.env {
				env[k] = v
			}
			cfg, err := loadConfig(lookupMap(env))
			if len(c.errNames) > 0 {
				if err == nil {
					t.Fatalf("loadConfig(%v) accepted it", c.env)
				}
				for _, n := range c.errNames {
					if !strings.Contains(err.Error(), n) {
						t.Errorf("error does not name %s:\n%v", n, err)
					}
				}
				for _, v := range c.env {
					if strings.Contains(err.Error(), v) && !strings.HasPrefix(v, dir) {
						t.Errorf("error echoes the value %q:\n%v", v, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cfg.Proxy.ProcessTokens, c.tokens) || cfg.Proxy.AdminToken != c.admin || cfg.Peers.Secret != c.peer {
				t.Errorf("tokens %q admin %q peer %q, want %q %q %q", cfg.Proxy.ProcessTokens, cfg.Proxy.AdminToken, cfg.Peers.Secret, c.tokens, c.admin, c.peer)
			}
		})
	}
}
