package layout

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/bookcovers/image-worker/"

// allowed lists, for each package, the packages of this module its
// non-test files may import (docs/architecture.md). A package missing
// from the list fails the test, so a new one needs its rule written down.
var allowed = map[string][]string{
	"cover":     {},
	"signing":   {"cover", "internal/env"},
	"cache":     {"cover", "internal/env"},
	"transform": {"cover", "internal/env"},
	"ingest":    {"cover", "cache", "transform", "internal/env"},
	"events":    {"cover", "cache", "ingest", "signing", "internal/env"},
	"proxy":     {"cover", "cache", "ingest", "signing", "internal/env"},
	// The environment reader each package reads its own variables with.
	"internal/env": {},
	// cmd's command-line plumbing and the binary's build description.
	"internal/cli":       {},
	"internal/buildinfo": {},
	"backfill":           {"cover", "ingest"},
	"contactsheet":       {"cover", "cache", "transform"},
	"deploy":             {},
	"internal/hostile":   {},
	"internal/testenv":   {},
	"internal/layout":    {},
	// Test support shared by cmd/image-worker's tests and systemtest/.
	"internal/loadloop":   {},
	"internal/replica":    {},
	"internal/faultcheck": {"cover", "cache", "ingest", "signing"},
	"cmd/image-worker":    {"cover", "cache", "transform", "ingest", "events", "proxy", "signing", "backfill", "contactsheet", "internal/env", "internal/cli", "internal/buildinfo"},
	// Test files only, but for the package comment.
	"systemtest": {},
}

// testAllowed lists, for the packages made of tests, what their test files
// may import too. systemtest drives the built binary as a black box: it
// reads what the binary stored, signs URLs and runs the load, but builds no
// part of the service itself (no proxy, events or ingest).
var testAllowed = map[string][]string{
	"systemtest": {"cover", "cache", "signing", "transform",
		"internal/hostile", "internal/testenv", "internal/loadloop", "internal/replica", "internal/faultcheck"},
}

// debt lists the imports the map forbids that the tree still has, each
// with what removes it. An entry that is no longer needed fails the test
// too, so the list only shrinks.
var debt = map[string][]string{}

func TestImportsFollowTheMap(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	imports := map[string]map[string]bool{}
	testImports := map[string]map[string]bool{} // of the packages in testAllowed
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bench" || name == "bin" || name == "data") {
				return filepath.SkipDir
			}
			// A folder with a go.mod of its own (bench/, deploy/kustomize/)
			// is another module: its packages are not this module's.
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && path != root {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		into := imports
		if strings.HasSuffix(path, "_test.go") {
			if _, ok := testAllowed[pkg]; !ok {
				return nil
			}
			into = testImports
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		if into[pkg] == nil {
			into[pkg] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			if p, ok := strings.CutPrefix(strings.Trim(imp.Path.Value, `"`), module); ok {
				into[pkg][p] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for pkg, imps := range imports {
		ok, known := allowed[pkg]
		if !known {
			t.Errorf("package %s has no rule in this test and docs/architecture.md", pkg)
			continue
		}
		for imp := range imps {
			if !slices.Contains(ok, imp) && !slices.Contains(debt[pkg], imp) {
				t.Errorf("%s imports %s, which the map forbids (docs/architecture.md)", pkg, imp)
			}
		}
		for _, d := range debt[pkg] {
			if !imps[d] {
				t.Errorf("%s no longer imports %s: remove it from the debt list and docs/architecture.md", pkg, d)
			}
		}
	}
	for pkg, ok := range testAllowed {
		if len(testImports[pkg]) == 0 {
			t.Errorf("found no test file of %s importing this module: has it moved?", pkg)
		}
		for imp := range testImports[pkg] {
			if !slices.Contains(ok, imp) {
				t.Errorf("a test of %s imports %s, which the map forbids (docs/architecture.md)", pkg, imp)
			}
		}
	}
	for _, never := range []string{"proxy", "events", "cmd/image-worker"} {
		for pkg, imps := range imports {
			if imps[never] && pkg != "cmd/image-worker" {
				t.Errorf("%s imports %s: only cmd may", pkg, never)
			}
		}
	}
}
