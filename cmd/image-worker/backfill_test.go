package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readAllRows reads every row of data as the file name would be read.
func readAllRows(t *testing.T, name, data string) ([]backfillRow, error) {
	t.Helper()
	rows, err := newRowReader(strings.NewReader(data), name)
	if err != nil {
		return nil, err
	}
	var out []backfillRow
	for {
		row, err := rows.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, row)
	}
}

func TestBackfillInputRows(t *testing.T) {
	t.Parallel()
	ok := func(line int, book, url string) backfillRow {
		return backfillRow{Line: line, BookID: book, ImageURL: url}
	}
	bad := func(line int, book, url, code string) backfillRow {
		return backfillRow{Line: line, BookID: book, ImageURL: url, Code: code}
	}
	cases := []struct {
		name, file, data string
		want             []backfillRow
	}{
		{"csv plain", "a.csv", "book_id,image_url\nB1,http://h/1.jpg\nB2,http://h/2.jpg\n",
			[]backfillRow{ok(2, "B1", "http://h/1.jpg"), ok(3, "B2", "http://h/2.jpg")}},
		{"csv quoted fields with commas, quotes and a newline", "a.csv",
			"book_id,image_url,title\n\"B1\",\"http://h/x.jpg?a=1,2\",\"Dune, \"\"the\"\" novel\"\nB2,http://h/2.jpg,\"two\nlines\"\nB3,http://h/3.jpg,x\n",
			[]backfillRow{ok(2, "B1", "http://h/x.jpg?a=1,2"), ok(3, "B2", "http://h/2.jpg"), ok(5, "B3", "http://h/3.jpg")}},
		{"csv BOM and CRLF", "a.csv", "\ufeffbook_id,image_url\r\nB1,http://h/1.jpg\r\nB2,http://h/2.jpg\r\n",
			[]backfillRow{ok(2, "B1", "http://h/1.jpg"), ok(3, "B2", "http://h/2.jpg")}},
		{"csv extra and reordered columns, header case and spaces", "a.csv",
			"title, IMAGE_URL ,isbn,Book_ID\nDune,http://h/1.jpg,978,B1\n",
			[]backfillRow{ok(2, "B1", "http://h/1.jpg")}},
		{"csv values trimmed, blank lines skipped", "a.csv", "book_id,image_url\n\n  B1 , http://h/1.jpg \n\n , \n",
			[]backfillRow{ok(3, "B1", "http://h/1.jpg")}},
		{"csv short and empty rows are missing_field", "a.csv", "book_id,image_url\nB1\n,http://h/2.jpg\nB3,\n",
			[]backfillRow{bad(2, "B1", "", codeMissingField), bad(3, "", "http://h/2.jpg", codeMissingField), bad(4, "B3", "", codeMissingField)}},
		{"csv bare quote is one invalid_row, the next row still read", "a.csv", "book_id,image_url\nB1,http://h/\"x\".jpg\nB2,http://h/2.jpg\n",
			[]backfillRow{bad(2, "", "", codeInvalidRow), ok(3, "B2", "http://h/2.jpg")}},
		{"csv sniffed without extension", "catalog", "book_id,image_url\nB1,http://h/1.jpg\n",
			[]backfillRow{ok(2, "B1", "http://h/1.jpg")}},
		{"jsonl with extra fields and a numeric id", "a.jsonl",
			"{\"book_id\":\"B1\",\"image_url\":\"http://h/1.jpg\",\"title\":\"x\"}\n\n{\"image_url\":\"http://h/2.jpg\",\"book_id\":42}\n",
			[]backfillRow{ok(1, "B1", "http://h/1.jpg"), ok(3, "42", "http://h/2.jpg")}},
		{"ndjson with BOM, CRLF and no final newline", "a.ndjson",
			"\ufeff{\"book_id\":\"B1\",\"image_url\":\"http://h/1.jpg\"}\r\n{\"book_id\":\"B2\",\"image_url\":\"http://h/2.jpg\"}",
			[]backfillRow{ok(1, "B1", "http://h/1.jpg"), ok(2, "B2", "http://h/2.jpg")}},
		{"jsonl sniffed from the first byte", "rows.txt", "  \n{\"book_id\":\"B1\",\"image_url\":\"http://h/1.jpg\"}\n",
			[]backfillRow{ok(2, "B1", "http://h/1.jpg")}},
		{"jsonl bad lines are failures, not fatal", "a.jsonl",
			"not json\n{\"book_id\":\"B1\"}\n{\"book_id\":true,\"image_url\":\"u\"}\n[1,2]\nnull\n{\"book_id\":\"B6\",\"image_url\":\"http://h/6.jpg\"}\n",
			[]backfillRow{bad(1, "", "", codeInvalidRow), bad(2, "B1", "", codeMissingField), bad(3, "", "u", codeInvalidRow),
				bad(4, "", "", codeInvalidRow), bad(5, "", "", codeInvalidRow), ok(6, "B6", "http://h/6.jpg")}},
		{"jsonl line over the limit", "a.jsonl",
			"{\"book_id\":\"B1\",\"image_url\":\"http://h/" + strings.Repeat("x", maxJSONLine) + "\"}\n{\"book_id\":\"B2\",\"image_url\":\"http://h/2.jpg\"}\n",
			[]backfillRow{bad(1, "", "", codeInvalidRow), ok(2, "B2", "http://h/2.jpg")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := readAllRows(t, tc.file, tc.data)
			if err != nil {
				t.Fatalf("read %s: %v", tc.file, err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("read %s: %d rows %+v, want %d %+v", tc.file, len(got), got, len(tc.want), tc.want)
			}
			for i := range got {
				g, w := got[i], tc.want[i]
				g.Message = ""
				if g != w {
					t.Errorf("row %d = %+v (message %q), want %+v", i, g, got[i].Message, w)
				}
				if w.Code != "" && got[i].Message == "" {
					t.Errorf("row %d has code %s but no message", i, w.Code)
				}
			}
		})
	}
}

func TestBackfillInputRefused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, file, data string
		mention          []string // the error names these
	}{
		{"csv without header", "a.csv", "B1,http://h/1.jpg\nB2,http://h/2.jpg\n", []string{"header", "book_id", "image_url"}},
		{"csv header without image_url", "a.csv", "book_id,url\nB1,http://h/1.jpg\n", []string{"no image_url column"}},
		{"csv header without book_id", "a.csv", "isbn,image_url\n", []string{"no book_id column"}},
		{"empty file", "a.csv", "", []string{"empty"}},
		{"blank file, sniffed", "a.txt", " \n\n", []string{"empty"}},
		{"BOM only", "a.csv", "\ufeff", []string{"empty"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rows, err := readAllRows(t, tc.file, tc.data)
			if !errors.Is(err, errBackfillInput) {
				t.Fatalf("read %q = %d rows, %v; want an error wrapping errBackfillInput", tc.data, len(rows), err)
			}
			for _, m := range tc.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

// FuzzBackfillRows: for any input, reading ends (EOF or a file-level
// error) within one row per line, and every row is usable or carries a
// known code.
func FuzzBackfillRows(f *testing.F) {
	f.Add([]byte("book_id,image_url\nB1,http://h/1.jpg\n\"B2\",\"x,y\"\n"), false)
	f.Add([]byte("\ufeffbook_id,image_url\r\nB1,\"http://h/\"\"q\"\"\"\r\n,\r\n"), false)
	f.Add([]byte("{\"book_id\":\"B1\",\"image_url\":\"u\"}\n{\"book_id\":1}\nnot json\n"), true)
	f.Add([]byte("title,book_id,image_url\nx,B1\n\"unterminated,\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, jsonl bool) {
		name := "in.csv"
		if jsonl {
			name = "in.jsonl"
		}
		rows, err := newRowReader(bytes.NewReader(data), name)
		if err != nil {
			if !errors.Is(err, errBackfillInput) {
				t.Fatalf("newRowReader error %v does not wrap errBackfillInput", err)
			}
			return
		}
		limit := bytes.Count(data, []byte("\n")) + 2
		for i := 0; ; i++ {
			if i > limit {
				t.Fatalf("more than %d rows from %d bytes", limit, len(data))
			}
			row, err := rows.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				if !errors.Is(err, errBackfillInput) {
					t.Fatalf("Next error %v does not wrap errBackfillInput", err)
				}
				return
			}
			switch row.Code {
			case "":
				if row.BookID == "" || row.ImageURL == "" {
					t.Fatalf("usable row %+v has an empty field", row)
				}
			case codeInvalidRow, codeMissingField:
				if row.Message == "" {
					t.Fatalf("row %+v has no message", row)
				}
			default:
				t.Fatalf("row %+v has unknown code", row)
			}
			if row.Line < 1 {
				t.Fatalf("row %+v has no line number", row)
			}
		}
	})
}

func TestProgressLine(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_700_000_000, 0)
	cases := []struct {
		name                    string
		total                   int64
		tty                     bool
		warmed, skipped, failed int64
		after                   time.Duration
		want                    []string
	}{
		{"plain, half done", 1000, false, 400, 90, 10, 5 * time.Second,
			[]string{"500/1000 (50.0%)", "100.0 covers/s", "ETA 5s", "warmed 400", "skipped 90", "failed 10"}},
		{"terminal bar", 1000, true, 250, 0, 0, 10 * time.Second,
			[]string{"[======>                 ]", "250/1000 (25.0%)", "25.0 covers/s", "ETA 30s"}},
		{"nothing done yet", 10, false, 0, 0, 0, time.Second, []string{"0/10 (0.0%)", "0.0 covers/s", "ETA -"}},
		{"finished: no ETA", 4, true, 4, 0, 0, 2 * time.Second, []string{"[========================]", "4/4 (100.0%)", "2.0 covers/s"}},
		{"long ETA", 1_000_000, false, 100, 0, 0, 10 * time.Second, []string{"10.0 covers/s", "ETA 27h46m"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &progress{total: tc.total, tty: tc.tty, now: func() time.Time { return start }}
			p.start = start
			p.samples = []rateSample{{start, 0}}
			p.warmed.Store(tc.warmed)
			p.skipped.Store(tc.skipped)
			p.failed.Store(tc.failed)
			got := p.line(start.Add(tc.after))
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("line() = %q, missing %q", got, w)
				}
			}
			if tc.warmed+tc.skipped+tc.failed == tc.total && strings.Contains(got, "ETA") {
				t.Errorf("line() = %q: a finished run has no ETA", got)
			}
		})
	}
}

// TestProgressRateWindow: the live rate follows the last rateWindow, so a
// fast resumed start does not inflate the ETA of the slow rest.
func TestProgressRateWindow(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_700_000_000, 0)
	p := &progress{total: 10_000, start: start, samples: []rateSample{{start, 0}}}
	// 5000 skipped rows in the first 5 s, then 10 rows/s for 30 s.
	p.rate(start.Add(5*time.Second), 5000)
	var got float64
	for s := 1; s <= 30; s++ {
		got = p.rate(start.Add(5*time.Second+time.Duration(s)*time.Second), 5000+int64(10*s))
	}
	if got < 9.9 || got > 10.1 {
		t.Errorf("rate after 30 s at 10 rows/s = %.2f, want 10 (the fast start is outside the window)", got)
	}
	if n := len(p.samples); n > int(rateWindow/time.Second)+2 {
		t.Errorf("%d rate samples kept, want at most %d", n, int(rateWindow/time.Second)+2)
	}
}

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
	if _, err := openFailureLog(input, input); !errors.Is(err, errUsage) {
		t.Errorf("openFailureLog(input as failures) = %v, want a usage error", err)
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
