package signing

import (
	"crypto/rand"
	"encoding/hex"
)

// NewKey returns a new random key of RecommendedKeyBytes as hex, an item of
// IMAGE_SIGNING_KEYS (ParseKeys reads it back).
func NewKey() (string, error) {
	b := make([]byte, RecommendedKeyBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
