package deploy

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// interpolationProblems finds what Compose's interpolation would reject or
// silently mangle: a $ that is neither $$ (a literal $, for the shell) nor a
// braced ${VAR}, ${VAR:-default}, ${VAR:?message} (a bare $VAR in a command
// is replaced by Compose, usually with nothing), or a $ inside a default or
// message.
func interpolationProblems(text string) []string {
	var problems []string
	for i, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		rest := strings.ReplaceAll(line, "$$", "")
		for _, m := range braceRE.FindAllStringSubmatch(rest, -1) {
			if strings.Contains(m[1], "$") {
				problems = append(problems, fmt.Sprintf("line %d: $ inside %s", i+1, m[0]))
			}
		}
		rest = braceRE.ReplaceAllString(rest, "")
		if strings.Contains(rest, "$") {
			problems = append(problems, fmt.Sprintf("line %d: $ not written $$ or ${VAR} in %q", i+1, strings.TrimSpace(line)))
		}
	}
	return problems
}

var braceRE = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-?+]([^}]*))?\}`)

func TestComposeInterpolation(t *testing.T) {
	data, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, text string
		bad        bool
	}{
		{"compose.yaml", string(data), false},
		{"command substitution not doubled", "command: echo $(date)", true},
		{"shell variable not doubled", `command: mc alias set local "$MINIO_ROOT_USER"`, true},
		{"command substitution in a message", "K: ${K:?make one with $(openssl rand -hex 32)}", true},
		{"escaped and braced", `K: ${K:-x} "$$HOME" ${J:?set J}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := interpolationProblems(tt.text); (len(got) > 0) != tt.bad {
				t.Errorf("interpolationProblems = %q, want problems: %v", got, tt.bad)
			}
		})
	}
}
