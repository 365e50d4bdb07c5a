package signing

import (
	"fmt"

	"github.com/bookcovers/image-worker/internal/env"
)

// ConfigFromEnv reads IMAGE_SIGNING_KEYS (or IMAGE_SIGNING_KEYS_FILE): a
// comma-separated list of hex keys, the first one signs, every one
// verifies; and IMAGE_SIGNING_DISABLED, the loud development switch.
// Whether keys are required is Validate's. Nothing here calls os.Getenv:
// cmd passes the Reader.
func ConfigFromEnv(e *env.Reader) Config {
	keys, err := ParseKeys(e.Secret("IMAGE_SIGNING_KEYS"))
	if err != nil {
		e.Fail(fmt.Errorf("IMAGE_SIGNING_KEYS: %w", err))
	}
	return Config{Keys: keys, Disabled: e.Bool("IMAGE_SIGNING_DISABLED", false)}
}
