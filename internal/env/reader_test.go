package env

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func mapLookup(m map[string]string) Lookup {
	return func(name string) (string, bool) { v, ok := m[name]; return v, ok }
}

func TestReaderParsesEachType(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("  from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := New(mapLookup(map[string]string{
		"S": "  text ", "EMPTY": "", "I": " 42 ", "B": "true", "F": "12.5",
		"D": "1m30s", "DSEC": "45", "L": " a, ,b ,", "IL": "80, 443",
		"TOKEN_FILE": secretFile, "PLAIN": "inline",
	}))
	checks := []struct {
		name      string
		got, want any
	}{
		{"string trimmed", e.Str("S", "def"), "text"},
		{"string set empty is empty", e.Str("EMPTY", "def"), ""},
		{"string unset is default", e.Str("NONE", "def"), "def"},
		{"int", e.Int("I", 1), 42},
		{"int blank is default", e.Int("EMPTY", 7), 7},
		{"bool", e.Bool("B", false), true},
		{"float", e.Float("F", 0), 12.5},
		{"duration in Go syntax", e.Duration("D", 0), 90 * time.Second},
		{"duration in whole seconds", e.Duration("DSEC", 0), 45 * time.Second},
		{"duration unset is default", e.Duration("NONE", time.Minute), time.Minute},
		{"secret from NAME_FILE", e.Secret("TOKEN"), "from-file"},
		{"secret inline", e.Secret("PLAIN"), "inline"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if got := e.List("L"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("list: got %q", got)
	}
	if got := e.IntList("IL", nil); !slices.Equal(got, []int{80, 443}) {
		t.Errorf("int list: got %v", got)
	}
	if got := e.IntList("NONE", []int{1}); !slices.Equal(got, []int{1}) {
		t.Errorf("int list default: got %v", got)
	}
	if err := e.Err(); err != nil {
		t.Errorf("no problem expected, got %v", err)
	}
}

// Every bad variable is named, all at once, and each keeps its default.
func TestReaderNamesEveryProblem(t *testing.T) {
	e := New(mapLookup(map[string]string{
		"I": "many", "B": "perhaps", "F": "NaN", "D": "soon", "IL": "80,http", "K_FILE": "/nonexistent/secret",
	}))
	if got := e.Int("I", 3); got != 3 {
		t.Errorf("bad int kept %d, want the default 3", got)
	}
	e.Bool("B", false)
	e.Float("F", 0)
	e.Duration("D", 0)
	e.IntList("IL", nil)
	e.Secret("K")
	err := e.Err()
	if err == nil {
		t.Fatal("no error for six bad variables")
	}
	for _, name := range []string{`I="many"`, `B="perhaps"`, `F="NaN"`, `D="soon"`, `IL: "http"`, "K_FILE"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 6 {
		t.Errorf("%d problems reported, want 6:\n%v", n, err)
	}
}
