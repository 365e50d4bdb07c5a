package cover

import "errors"

// codedError is a sentinel error that names its Code.
type codedError struct {
	code Code
	text string
}

func (e *codedError) Error() string { return e.text }

// NewError returns a new sentinel error with the given text that names
// code: every error wrapping it has that code (CodeOf). Packages make their
// sentinels with it where a client may be told about them, so that the
// classification travels with the error and no caller needs a table of
// another package's sentinels.
func NewError(code Code, text string) error { return &codedError{code: code, text: text} }

// CodeOf returns the code named by the first error in err's chain made by
// NewError (errors.As order: a sentinel wrapped before another wins), and
// false when none names one: nil, a context error, a dependency's error.
func CodeOf(err error) (Code, bool) {
	var c *codedError
	if errors.As(err, &c) {
		return c.code, true
	}
	return "", false
}
