package cover

import (
	"fmt"
)

// ErrInvalidBookID reports a book id outside the public grammar.
var ErrInvalidBookID = NewError(CodeInvalidBookID, "cover: invalid book id")

// MaxBookIDLength is the longest accepted book id.
const MaxBookIDLength = 128

// ValidBookID checks the book id grammar shared by every entry point:
// 1-128 characters of [A-Za-z0-9._-], not starting with '.'. Every object
// key is built from it: an id that passes can never escape its prefix in the
// store.
func ValidBookID(id string) error {
	if id == "" || len(id) > MaxBookIDLength {
		return fmt.Errorf("validate book id: length %d not in 1..%d: %w", len(id), MaxBookIDLength, ErrInvalidBookID)
	}
	if id[0] == '.' {
		return fmt.Errorf("validate book id: leading dot: %w", ErrInvalidBookID)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return fmt.Errorf("validate book id: byte %d not allowed: %w", i, ErrInvalidBookID)
		}
	}
	return nil
}
