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
	"cover":            {},
	"signing":          {"cover"},
	"cache":            {"cover"},
	"transform":        {"cover"},
	"ingest":           {"cover", "cache", "transform"},
	"events":           {"cover", "cache", "ingest", "signing"},
	"proxy":            {"cover", "cache", "ingest", "signing"},
	"deploy":           {},
	"internal/hostile": {},
	"internal/testenv": {},
	"internal/layout":  {},
	"cmd/image-worker": {"cover", "cache", "transform", "ingest", "events", "proxy", "signing"},
}

// debt lists the imports the map forbids that the tree still has, each
// with what removes it. An entry that is no longer needed fails the test
// too, so the list only shrinks.
var debt = map[string][]string{
	// Formats and size clamping belong in cover, and the status table
	// should map one typed error-code set instead of transform's sentinels.
	"proxy": {"transform"},
}

func TestImportsFollowTheMap(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	imports := map[string]map[string]bool{}
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
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		if imports[pkg] == nil {
			imports[pkg] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			if p, ok := strings.CutPrefix(strings.Trim(imp.Path.Value, `"`), module); ok {
				imports[pkg][p] = true
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
	for _, never := range []string{"proxy", "events", "cmd/image-worker"} {
		for pkg, imps := range imports {
			if imps[never] && pkg != "cmd/image-worker" {
				t.Errorf("%s imports %s: only cmd may", pkg, never)
			}
		}
	}
}
