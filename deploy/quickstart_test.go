package deploy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The commands the docs tell people to run, checked against what they run
// on: the single-container quick start against the image and the service's
// code (and against what make image-test runs), the Compose commands against
// what compose.yaml requires.

// commands returns the shell commands of a text that start with prefix
// (backslash continuations joined; in a Dockerfile, its comment lines).
func commands(text, prefix string) []string {
	var out []string
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(lines[i]), "#"))
		if !strings.HasPrefix(l, prefix) {
			continue
		}
		for strings.HasSuffix(l, `\`) && i+1 < len(lines) {
			i++
			l = strings.TrimSuffix(l, `\`) + " " + strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(lines[i]), "#"))
		}
		out = append(out, strings.Join(strings.Fields(l), " "))
	}
	return out
}

// dockerRun is what a `docker run` command sets.
type dockerRun struct {
	env     map[string]string // -e NAME[=VALUE]; a bare NAME is passed from the shell ("$NAME")
	volumes []string          // -v SRC:DST, the DST
	ports   []string          // -p [IP:]HOST:CONTAINER, the CONTAINER port
}

var runFlagRE = regexp.MustCompile(`(?:^| )(-e|-v|-p) (\S+)`)

func parseDockerRun(cmd string) dockerRun {
	r := dockerRun{env: map[string]string{}}
	for _, m := range runFlagRE.FindAllStringSubmatch(cmd, -1) {
		switch m[1] {
		case "-e":
			k, v, ok := strings.Cut(m[2], "=")
			if !ok {
				v = "$" + k
			}
			r.env[k] = v
		case "-v":
			parts := strings.Split(m[2], ":")
			r.volumes = append(r.volumes, parts[1])
		case "-p":
			r.ports = append(r.ports, m[2][strings.LastIndex(m[2], ":")+1:])
		}
	}
	return r
}

// echoEnvRE finds the NAME=VALUE lines image-check.sh adds to the image's
// Env for the service it runs (the value up to any shell expansion).
var echoEnvRE = regexp.MustCompile(`(?m)^\s*echo "([A-Z][A-Z0-9_]*)=([^"$]*)`)

func TestSingleContainerQuickStart(t *testing.T) {
	f := loadFacts(t)
	_, read := serviceEnv(t)
	checked := map[string]string{}
	for _, m := range echoEnvRE.FindAllStringSubmatch(readRepo(t, "scripts/image-check.sh"), -1) {
		checked[m[1]] = m[2]
	}
	if _, ok := checked["KAFKA_BROKERS"]; !ok {
		t.Fatalf("scripts/image-check.sh sets no KAFKA_BROKERS= for the service it runs (found %v)", checked)
	}
	listen := fmt.Sprint(port(t, "LISTEN_ADDR (Dockerfile ENV)", f.imageEnv["LISTEN_ADDR"]))
	var first *dockerRun
	for _, file := range []string{"README.md", "deploy/README.md", "Dockerfile"} {
		runs := commands(readRepo(t, file), "docker run ")
		if len(runs) == 0 {
			t.Errorf("%s: no docker run command (the single-container quick start)", file)
			continue
		}
		for _, cmd := range runs {
			r := parseDockerRun(cmd)
			for k, v := range r.env {
				if !read[k] {
					t.Errorf("%s: %q sets %s, which cmd/image-worker never reads", file, cmd, k)
				}
				// What make image-test runs the image with: the same
				// variables, the same literal values.
				if got, ok := checked[k]; !ok {
					t.Errorf("%s: the quick start sets %s; scripts/image-check.sh does not, so make image-test does not run what it documents", file, k)
				} else if !strings.HasPrefix(v, "$") && got != v {
					t.Errorf("%s: the quick start sets %s=%q, scripts/image-check.sh %q", file, k, v, got)
				}
			}
			if v, ok := r.env["KAFKA_BROKERS"]; !ok || v != "" {
				t.Errorf("%s: %q: want -e KAFKA_BROKERS= (the default, kafka:9092, never resolves in a lone container)", file, cmd)
			}
			if _, ok := r.env["IMAGE_SIGNING_KEYS"]; !ok {
				t.Errorf("%s: %q: without IMAGE_SIGNING_KEYS the service refuses to start", file, cmd)
			}
			if !slices.Contains(r.volumes, f.imageEnv["DATA_DIR"]) {
				t.Errorf("%s: %q mounts %v, want a volume on DATA_DIR %s (the embedded store)", file, cmd, r.volumes, f.imageEnv["DATA_DIR"])
			}
			if !slices.Equal(r.ports, []string{listen}) {
				t.Errorf("%s: %q publishes container ports %v, want only the public port %s (never 8081)", file, cmd, r.ports, listen)
			}
			if first == nil {
				first = &r
			} else if !slices.Equal(sortedKeys(first.env), sortedKeys(r.env)) {
				t.Errorf("%s: %q sets %v; another quick start sets %v: keep them one command", file, cmd, sortedKeys(r.env), sortedKeys(first.env))
			}
		}
	}
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

var requiredRE = regexp.MustCompile(`\$\{([A-Z][A-Z0-9_]*):\?`)

// Every variable compose.yaml requires (${VAR:?...}) is exported by the
// commands deploy/README.md and compose.yaml's own header give, so they work
// as written.
func TestComposeCommandsExportWhatComposeRequires(t *testing.T) {
	compose := readRepo(t, "deploy/compose.yaml")
	var required []string
	for _, line := range strings.Split(compose, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, m := range requiredRE.FindAllStringSubmatch(line, -1) {
			if !slices.Contains(required, m[1]) {
				required = append(required, m[1])
			}
		}
	}
	slices.Sort(required)
	if len(required) < 3 {
		t.Fatalf("compose.yaml requires only %v; has its interpolation changed?", required)
	}
	readme := readRepo(t, "deploy/README.md")
	i := strings.Index(readme, "\n## Docker Compose\n")
	if i < 0 {
		t.Fatal("deploy/README.md has no ## Docker Compose section")
	}
	block := readme[i:]
	if j := strings.Index(block, "\n```\n"); j >= 0 {
		block = block[:j] // the section's first code block
	}
	tests := []struct{ name, text string }{
		{"deploy/README.md, Docker Compose", block},
		{"deploy/compose.yaml, header", compose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(commands(tt.text, "docker compose -f deploy/compose.yaml up")) == 0 {
				t.Fatalf("no `docker compose -f deploy/compose.yaml up` command")
			}
			var exported []string
			for _, cmd := range commands(tt.text, "export ") {
				name, _, _ := strings.Cut(strings.TrimPrefix(cmd, "export "), "=")
				exported = append(exported, name)
			}
			for _, r := range required {
				if !slices.Contains(exported, r) {
					t.Errorf("compose.yaml requires %s (${%s:?...}); the commands export only %v, so `up` fails as written", r, r, exported)
				}
			}
		})
	}
}
