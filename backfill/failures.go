package backfill

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// failureLog writes failed rows to a CSV file with the columns
// book_id,image_url,code,message. Its first two columns are a valid backfill
// input, so the file can be fed back to retry just the failures.
type failureLog struct {
	path string
	mu   sync.Mutex
	f    *os.File
	w    *csv.Writer
	n    int
	err  error
}

// defaultFailuresPath puts the failures next to the input:
// catalog.csv -> catalog.failures.csv.
func defaultFailuresPath(input string) string {
	ext := filepath.Ext(input)
	return strings.TrimSuffix(input, ext) + ".failures.csv"
}

// openFailureLog creates (or truncates) path and writes the header. It
// refuses to overwrite the input file (an ErrSetting).
func openFailureLog(path, input string) (*failureLog, error) {
	if in, err := os.Stat(input); err == nil {
		if out, err := os.Stat(path); err == nil && os.SameFile(in, out) {
			return nil, settingError(fmt.Sprintf("--failures %s is the input file", path))
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("open failures file: %w", err)
	}
	l := &failureLog{path: path, f: f, w: csv.NewWriter(f)}
	l.add("book_id", "image_url", "code", "message")
	l.n = 0
	if l.err != nil {
		f.Close()
		return nil, fmt.Errorf("write failures file: %w", l.err)
	}
	return l, nil
}

// add records one failed row. Each row is flushed at once, so an
// interrupted run leaves a complete file.
func (l *failureLog) add(bookID, imageURL, code, message string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	if l.err != nil {
		return
	}
	if err := l.w.Write([]string{bookID, imageURL, code, clipText(message, 500)}); err != nil {
		l.err = err
		return
	}
	l.w.Flush()
	l.err = l.w.Error()
}

// count is the number of failed rows recorded.
func (l *failureLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// close flushes and closes the file, reporting any write error.
func (l *failureLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.Flush()
	err := errors.Join(l.err, l.w.Error(), l.f.Close())
	if err != nil {
		return fmt.Errorf("write failures file %s: %w", l.path, err)
	}
	return nil
}
