package signing

import (
	"errors"
	"fmt"
	"strings"
)

const (
	// MinKeyBytes is the shortest key accepted.
	MinKeyBytes = 16
	// RecommendedKeyBytes is the key length to generate (openssl rand -hex 32).
	RecommendedKeyBytes = 32
)

// Config configures a Signer.
type Config struct {
	// Keys are raw HMAC keys. Keys[0] signs; every key verifies, so a new
	// key goes first and the old one stays second until links signed with
	// it have aged out of the CDN and of frontends.
	Keys [][]byte
	// Disabled turns verification off: Verify accepts anything. Only ever
	// set explicitly (IMAGE_SIGNING_DISABLED=true).
	Disabled bool
}

// DefaultConfig returns signing enabled with no keys: it does not validate
// until keys are supplied or signing is explicitly disabled.
func DefaultConfig() Config {
	return Config{}
}

// Validate reports every problem, joined.
func (c Config) Validate() error {
	var errs []error
	if len(c.Keys) == 0 && !c.Disabled {
		errs = append(errs, fmt.Errorf("IMAGE_SIGNING_KEYS is empty and IMAGE_SIGNING_DISABLED is not true: %w", ErrNoKeys))
	}
	for i, k := range c.Keys {
		if err := checkKeyLen(i+1, len(k)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ParseKeys turns IMAGE_SIGNING_KEYS (comma-separated hex) into raw keys.
// "" (or only spaces) gives nil, nil. Items are trimmed of spaces. Every bad
// item is reported, joined; messages name the item's 1-based position and
// never contain key material.
func ParseKeys(commaHex string) ([][]byte, error) {
	if strings.TrimSpace(commaHex) == "" {
		return nil, nil
	}
	items := strings.Split(commaHex, ",")
	keys := make([][]byte, 0, len(items))
	var errs []error
	for i, item := range items {
		pos := i + 1
		item = strings.TrimSpace(item)
		key, err := decodeHexKey(pos, item)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := checkKeyLen(pos, len(key)); err != nil {
			errs = append(errs, err)
			continue
		}
		keys = append(keys, key)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return keys, nil
}

// decodeHexKey decodes one hex key. It does not use encoding/hex's errors,
// which quote the offending character.
func decodeHexKey(pos int, s string) ([]byte, error) {
	switch {
	case s == "":
		return nil, fmt.Errorf("parse keys: key %d: empty: %w", pos, ErrBadKey)
	case len(s)%2 != 0:
		return nil, fmt.Errorf("parse keys: key %d: odd number of hex digits: %w", pos, ErrBadKey)
	}
	key := make([]byte, len(s)/2)
	for i := 0; i < len(s); i += 2 {
		hi, ok1 := fromHex(s[i])
		lo, ok2 := fromHex(s[i+1])
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("parse keys: key %d: not hex: %w", pos, ErrBadKey)
		}
		key[i/2] = hi<<4 | lo
	}
	return key, nil
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func checkKeyLen(pos, n int) error {
	if n < MinKeyBytes {
		return fmt.Errorf("signing keys: key %d: %d bytes, want at least %d (recommended %d): %w",
			pos, n, MinKeyBytes, RecommendedKeyBytes, ErrBadKey)
	}
	return nil
}
