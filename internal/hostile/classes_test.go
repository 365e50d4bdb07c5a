package hostile

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// readReal reads the real files from the repository's testdata directory.
func readReal(t *testing.T) Real {
	t.Helper()
	r, err := ReadReal(filepath.Join("..", "..", "testdata"))
	if err != nil {
		t.Fatalf("ReadReal(../../testdata): %v", err)
	}
	return r
}

// reduced is a name cut down to lowercase letters, digits and dashes.
func reduced(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return '-'
	}, name)
}

func TestClasses(t *testing.T) {
	t.Parallel()
	real := readReal(t)
	for _, tc := range []struct {
		name  string
		files Real
	}{
		{"with real files", real},
		{"without real files", Real{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cases := Classes(tc.files)
			names := map[string]bool{}
			codes := map[string]int{}
			for _, c := range cases {
				if len(c.Name) == 0 || len(c.Name) > 100 {
					t.Errorf("case %q: name of %d bytes; want 1 to 100", c.Name, len(c.Name))
				}
				if r := reduced(c.Name); names[r] {
					t.Errorf("case %q: name not unique (reduced to %q)", c.Name, r)
				} else {
					names[r] = true
				}
				switch {
				case c.Data == nil:
					t.Errorf("case %q: Data is nil", c.Name)
				case len(c.Data) == 0 && c.Name != "empty file":
					t.Errorf("case %q: Data is empty; only the case %q may be", c.Name, "empty file")
				}
				if !slices.Contains(Codes, c.Code) {
					t.Errorf("case %q: Code %q; want one of %q", c.Name, c.Code, Codes)
				}
				if c.Truncated && (c.Code == CodeTooManyPixels || c.Code == CodeUnsupportedType) {
					t.Errorf("case %q: a cut of a whole file with code %s; want not_an_image or corrupt_image", c.Name, c.Code)
				}
				codes[c.Code]++
			}
			for _, code := range Codes {
				if codes[code] == 0 {
					t.Errorf("no case has code %s", code)
				}
			}
			t.Logf("%d cases: %v", len(cases), codes)
		})
	}
}

// TestClassesCutEveryRealFile: every real file is cut at several offsets,
// and its cuts are prefixes of it.
func TestClassesCutEveryRealFile(t *testing.T) {
	t.Parallel()
	real := readReal(t)
	cases := Classes(real)
	for format, data := range map[string][]byte{"jpeg": real.JPEG, "png": real.PNG, "gif": real.GIF,
		"webp": real.WebP, "avif": real.AVIF, "heic": real.HEIC} {
		cuts := 0
		for _, c := range cases {
			if c.Truncated && strings.HasPrefix(c.Name, "real "+format+" cut") {
				cuts++
				if len(c.Data) >= len(data) || !bytes.HasPrefix(data, c.Data) {
					t.Errorf("case %q: %d bytes, not a shorter prefix of the %d-byte %s", c.Name, len(c.Data), len(data), format)
				}
			}
		}
		if cuts < 4 {
			t.Errorf("real %s: %d cuts; want at least 4", format, cuts)
		}
	}
}

// TestClassesAreReproducible: two calls build the same files in new slices.
func TestClassesAreReproducible(t *testing.T) {
	t.Parallel()
	real := readReal(t)
	a, b := Classes(real), Classes(real)
	if len(a) != len(b) {
		t.Fatalf("Classes returned %d cases, then %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Data, b[i].Data) {
			t.Errorf("case %d: %q (%d bytes), then %q (%d bytes)", i, a[i].Name, len(a[i].Data), b[i].Name, len(b[i].Data))
		}
		if len(a[i].Data) > 0 && &a[i].Data[0] == &b[i].Data[0] {
			t.Errorf("case %q: both calls share one slice", a[i].Name)
		}
	}
}

func TestTruncations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    int
		want []int // lengths of the cuts
	}{
		{0, nil},
		{1, nil},
		{2, []int{1}},
		{10, []int{1, 5, 9}},
		{1000, []int{1, 100, 500, 900, 999}},
	}
	for _, tc := range tests {
		data := bytes.Repeat([]byte{7}, tc.n)
		var got []int
		for _, c := range Truncations(data) {
			got = append(got, len(c))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Truncations(%d bytes) cut to %v bytes; want %v", tc.n, got, tc.want)
		}
	}
}
