package backfill

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ErrInput reports an input file that cannot be read as a whole
// (no header, no book_id column, an I/O error). A bad row is never this: it
// becomes a failure with a code and the backfill goes on.
var ErrInput = errors.New("backfill input")

// Row failure codes the input readers produce themselves; everything else
// comes from ingest.Code or from the service.
const (
	codeInvalidRow   = "invalid_row"   // not parseable: bad CSV quoting, not a JSON object, line too long
	codeMissingField = "missing_field" // book_id or image_url absent or empty
)

// maxJSONLine bounds one JSON Lines record; a longer line is an invalid row.
const maxJSONLine = 1 << 20

// Input is an input file whose header was checked and whose rows were
// counted, before anything is warmed.
type Input struct {
	Path string
	Rows int64 // rows, blank lines excluded: the progress total
}

// CheckInput reads the file at path once: it checks its header (an error
// wrapping ErrInput names the problem) and counts its rows.
func CheckInput(path string) (Input, error) {
	f, err := os.Open(path)
	if err != nil {
		return Input{}, fmt.Errorf("%w: %v", ErrInput, err)
	}
	defer f.Close()
	rows, err := newRowReader(f, path)
	if err != nil {
		return Input{}, err
	}
	n, err := countRows(rows)
	if err != nil {
		return Input{}, err
	}
	return Input{Path: path, Rows: n}, nil
}

// inputRow is one input row: a book and the URL of its cover, or (Code
// set) the reason the row cannot be used.
type inputRow struct {
	Line     int // 1-based line of the row in the file
	BookID   string
	ImageURL string
	Code     string
	Message  string
}

// rowReader yields rows in file order. Next returns io.EOF at the end; any
// other error means the file itself cannot be read further.
type rowReader interface {
	Next() (inputRow, error)
}

// newRowReader reads CSV (a header naming book_id and image_url; other
// columns ignored) or JSON Lines ({"book_id":..., "image_url":...} per
// line). The extension decides (.csv, .jsonl, .ndjson); otherwise the first
// non-blank byte does: '{' is JSON Lines, anything else CSV. A UTF-8 byte
// order mark is skipped.
func newRowReader(r io.Reader, name string) (rowReader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if bom, err := br.Peek(3); err == nil && bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return newCSVRows(br)
	case ".jsonl", ".ndjson":
		return &jsonRows{r: br}, nil
	}
	first, err := firstNonBlank(br)
	if err != nil {
		return nil, err
	}
	if first == '{' {
		return &jsonRows{r: br}, nil
	}
	return newCSVRows(br)
}

// firstNonBlank peeks at the first byte that is not white space.
func firstNonBlank(br *bufio.Reader) (byte, error) {
	for n := 1; ; n++ {
		b, err := br.Peek(n)
		if len(b) == n {
			if c := b[n-1]; c != ' ' && c != '\t' && c != '\r' && c != '\n' {
				return c, nil
			}
			if n < br.Size() {
				continue
			}
		}
		if err == nil || errors.Is(err, io.EOF) || errors.Is(err, bufio.ErrBufferFull) {
			return 0, fmt.Errorf("%w: the file is empty: want a CSV header line book_id,image_url or JSON Lines", ErrInput)
		}
		return 0, fmt.Errorf("%w: %v", ErrInput, err)
	}
}

// csvRows reads CSV records after a header line.
type csvRows struct {
	r         *csv.Reader
	book, url int
}

func newCSVRows(r io.Reader) (*csvRows, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: the file is empty: want a header line book_id,image_url", ErrInput)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: CSV header: %v", ErrInput, err)
	}
	c := &csvRows{r: cr, book: -1, url: -1}
	for i, h := range header {
		switch strings.ToLower(strings.TrimSpace(h)) {
		case "book_id":
			if c.book < 0 {
				c.book = i
			}
		case "image_url":
			if c.url < 0 {
				c.url = i
			}
		}
	}
	var missing []string
	if c.book < 0 {
		missing = append(missing, "book_id")
	}
	if c.url < 0 {
		missing = append(missing, "image_url")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: the CSV header %q has no %s column: the first line must name the columns, e.g. book_id,image_url",
			ErrInput, clipText(strings.Join(header, ","), 120), strings.Join(missing, " or "))
	}
	return c, nil
}

func (c *csvRows) Next() (inputRow, error) {
	for {
		rec, err := c.r.Read()
		if errors.Is(err, io.EOF) {
			return inputRow{}, io.EOF
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return inputRow{Line: pe.StartLine, Code: codeInvalidRow, Message: "CSV: " + pe.Err.Error()}, nil
		}
		if err != nil {
			return inputRow{}, fmt.Errorf("%w: %v", ErrInput, err)
		}
		line, _ := c.r.FieldPos(0)
		if blankRecord(rec) {
			continue
		}
		row := inputRow{Line: line}
		if c.book < len(rec) {
			row.BookID = strings.TrimSpace(rec[c.book])
		}
		if c.url < len(rec) {
			row.ImageURL = strings.TrimSpace(rec[c.url])
		}
		return checkFields(row), nil
	}
}

func blankRecord(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// jsonRows reads one JSON object per line; blank lines are skipped.
type jsonRows struct {
	r    *bufio.Reader
	line int
}

func (j *jsonRows) Next() (inputRow, error) {
	for {
		b, tooLong, err := readJSONLine(j.r, maxJSONLine)
		if err != nil && !errors.Is(err, io.EOF) {
			return inputRow{}, fmt.Errorf("%w: line %d: %v", ErrInput, j.line+1, err)
		}
		if errors.Is(err, io.EOF) && len(b) == 0 && !tooLong {
			return inputRow{}, io.EOF
		}
		j.line++
		if tooLong {
			return inputRow{Line: j.line, Code: codeInvalidRow, Message: fmt.Sprintf("line longer than %d bytes", maxJSONLine)}, nil
		}
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		return parseJSONRow(j.line, b), nil
	}
}

// parseJSONRow reads book_id and image_url from one object. A numeric
// book_id is taken as written (catalogs often export ids as numbers).
func parseJSONRow(line int, b []byte) inputRow {
	row := inputRow{Line: line}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil || obj == nil {
		row.Code, row.Message = codeInvalidRow, "not a JSON object"
		return row
	}
	var errs []string
	var ok bool
	if row.BookID, ok = jsonScalar(obj["book_id"], true); !ok {
		errs = append(errs, "book_id must be a string or a number")
	}
	if row.ImageURL, ok = jsonScalar(obj["image_url"], false); !ok {
		errs = append(errs, "image_url must be a string")
	}
	if len(errs) > 0 {
		row.Code, row.Message = codeInvalidRow, strings.Join(errs, "; ")
		return row
	}
	return checkFields(row)
}

// jsonScalar returns a string value (or a number when numbers are allowed);
// a missing or null field is "" and ok.
func jsonScalar(raw json.RawMessage, numbers bool) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return strings.TrimSpace(s), true
	}
	var n json.Number
	if numbers && json.Unmarshal(raw, &n) == nil {
		return n.String(), true
	}
	return "", false
}

// checkFields marks a row whose book_id or image_url is empty.
func checkFields(row inputRow) inputRow {
	switch {
	case row.BookID == "" && row.ImageURL == "":
		row.Code, row.Message = codeMissingField, "book_id and image_url are empty"
	case row.BookID == "":
		row.Code, row.Message = codeMissingField, "book_id is empty"
	case row.ImageURL == "":
		row.Code, row.Message = codeMissingField, "image_url is empty"
	}
	return row
}

// readJSONLine returns the next line without its newline. A line longer than
// limit is consumed and reported as tooLong, with no bytes.
func readJSONLine(r *bufio.Reader, limit int) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > limit+2 { // +2: the line ending itself
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if tooLong {
			return nil, true, err
		}
		return bytes.TrimRight(buf, "\r\n"), false, err
	}
}

// countRows counts the rows a reader yields (blank lines excluded), for the
// progress total.
func countRows(rows rowReader) (int64, error) {
	var n int64
	for {
		_, err := rows.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

// clipText cuts s to at most n bytes for messages.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
