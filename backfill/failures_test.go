package backfill

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestFailureLog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	input := filepath.Join(dir, "catalog.csv")
	if err := os.WriteFile(input, []byte("book_id,image_url\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, want := defaultFailuresPath(input), filepath.Join(dir, "catalog.failures.csv"); got != want {
		t.Errorf("defaultFailuresPath(%s) = %s, want %s", input, got, want)
	}
	if _, err := openFailureLog(input, input); !errors.Is(err, ErrSetting) {
		t.Errorf("openFailureLog(input as failures) = %v, want an ErrSetting", err)
	}
	if b, _ := os.ReadFile(input); string(b) != "book_id,image_url\n" {
		t.Errorf("the input was modified: %q", b)
	}
	l, err := openFailureLog(defaultFailuresPath(input), input)
	if err != nil {
		t.Fatal(err)
	}
	l.add("B1", "http://h/a,b.jpg", "not_an_image", "the original is not a supported image")
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(l.path)
	want := "book_id,image_url,code,message\nB1,\"http://h/a,b.jpg\",not_an_image,the original is not a supported image\n"
	if string(b) != want || l.count() != 1 {
		t.Errorf("failures file = %q (count %d), want %q (count 1)", b, l.count(), want)
	}
	// The failures file is itself a valid input: its rows can be retried.
	rows, err := readAllRows(t, l.path, string(b))
	if err != nil || len(rows) != 1 || rows[0].BookID != "B1" || rows[0].ImageURL != "http://h/a,b.jpg" {
		t.Errorf("reading the failures file as input = %+v, %v; want the one failed row", rows, err)
	}
}
