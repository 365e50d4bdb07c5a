package backfill

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// readAllRows reads every row of data as the file name would be read.
func readAllRows(t *testing.T, name, data string) ([]inputRow, error) {
	t.Helper()
	rows, err := newRowReader(strings.NewReader(data), name)
	if err != nil {
		return nil, err
	}
	var out []inputRow
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
	ok := func(line int, book, url string) inputRow {
		return inputRow{Line: line, BookID: book, ImageURL: url}
	}
	bad := func(line int, book, url, code string) inputRow {
		return inputRow{Line: line, BookID: book, ImageURL: url, Code: code}
	}
	cases := []struct {
		name, file, data string
		want             []inputRow
	}{
		{"csv plain", "a.csv", "book_id,image_url\nB1,http://h/1.jpg\nB2,http://h/2.jpg\n",
			[]inputRow{ok(2, "B1", "http://h/1.jpg"), ok(3, "B2", "http://h/2.jpg")}},
		{"csv quoted fields with commas, quotes and a newline", "a.csv",
			"book_id,image_url,title\n\"B1\",\"http://h/x.jpg?a=1,2\",\"Dune, \"\"the\"\" novel\"\nB2,http://h/2.jpg,\"two\nlines\"\nB3,http://h/3.jpg,x\n",
			[]inputRow{ok(2, "B1", "http://h/x.jpg?a=1,2"), ok(3, "B2", "http://h/2.jpg"), ok(5, "B3", "http://h/3.jpg")}},
		{"csv BOM and CRLF", "a.csv", "\ufeffbook_id,image_url\r\nB1,http://h/1.jpg\r\nB2,http://h/2.jpg\r\n",
			[]inputRow{ok(2, "B1", "http://h/1.jpg"), ok(3, "B2", "http://h/2.jpg")}},
		{"csv extra and reordered columns, header case and spaces", "a.csv",
			"title, IMAGE_URL ,isbn,Book_ID\nDune,http://h/1.jpg,978,B1\n",
			[]inputRow{ok(2, "B1", "http://h/1.jpg")}},
		{"csv values trimmed, blank lines skipped", "a.csv", "book_id,image_url\n\n  B1 , http://h/1.jpg \n\n , \n",
			[]inputRow{ok(3, "B1", "http://h/1.jpg")}},
		{"csv short and empty rows are missing_field", "a.csv", "book_id,image_url\nB1\n,http://h/2.jpg\nB3,\n",
			[]inputRow{bad(2, "B1", "", codeMissingField), bad(3, "", "http://h/2.jpg", codeMissingField), bad(4, "B3", "", codeMissingField)}},
		{"csv bare quote is one invalid_row, the next row still read", "a.csv", "book_id,image_url\nB1,http://h/\"x\".jpg\nB2,http://h/2.jpg\n",
			[]inputRow{bad(2, "", "", codeInvalidRow), ok(3, "B2", "http://h/2.jpg")}},
		{"csv sniffed without extension", "catalog", "book_id,image_url\nB1,http://h/1.jpg\n",
			[]inputRow{ok(2, "B1", "http://h/1.jpg")}},
		{"jsonl with extra fields and a numeric id", "a.jsonl",
			"{\"book_id\":\"B1\",\"image_url\":\"http://h/1.jpg\",\"title\":\"x\"}\n\n{\"image_url\":\"http://h/2.jpg\",\"book_id\":42}\n",
			[]inputRow{ok(1, "B1", "http://h/1.jpg"), ok(3, "42", "http://h/2.jpg")}},
		{"ndjson with BOM, CRLF and no final newline", "a.ndjson",
			"\ufeff{\"book_id\":\"B1\",\"image_url\":\"http://h/1.jpg\"}\r\n{\"book_id\":\"B2\",\"image_url\":\"http://h/2.jpg\"}",
			[]inputRow{ok(1, "B1", "http://h/1.jpg"), ok(2, "B2", "http://h/2.jpg")}},
		{"jsonl sniffed from the first byte", "rows.txt", "  \n{\"book_id\":\"B1\",\"image_url\":\"http://h/1.jpg\"}\n",
			[]inputRow{ok(2, "B1", "http://h/1.jpg")}},
		{"jsonl bad lines are failures, not fatal", "a.jsonl",
			"not json\n{\"book_id\":\"B1\"}\n{\"book_id\":true,\"image_url\":\"u\"}\n[1,2]\nnull\n{\"book_id\":\"B6\",\"image_url\":\"http://h/6.jpg\"}\n",
			[]inputRow{bad(1, "", "", codeInvalidRow), bad(2, "B1", "", codeMissingField), bad(3, "", "u", codeInvalidRow),
				bad(4, "", "", codeInvalidRow), bad(5, "", "", codeInvalidRow), ok(6, "B6", "http://h/6.jpg")}},
		{"jsonl line over the limit", "a.jsonl",
			"{\"book_id\":\"B1\",\"image_url\":\"http://h/" + strings.Repeat("x", maxJSONLine) + "\"}\n{\"book_id\":\"B2\",\"image_url\":\"http://h/2.jpg\"}\n",
			[]inputRow{bad(1, "", "", codeInvalidRow), ok(2, "B2", "http://h/2.jpg")}},
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
			if !errors.Is(err, ErrInput) {
				t.Fatalf("read %q = %d rows, %v; want an error wrapping ErrInput", tc.data, len(rows), err)
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
			if !errors.Is(err, ErrInput) {
				t.Fatalf("newRowReader error %v does not wrap ErrInput", err)
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
				if !errors.Is(err, ErrInput) {
					t.Fatalf("Next error %v does not wrap ErrInput", err)
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
