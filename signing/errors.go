package signing

import (
	"errors"
	"fmt"

	"github.com/bookcovers/image-worker/cover"
)

// Sentinel errors. Callers test them with errors.Is. Those a client is
// told about name their cover.Code.
var (
	// ErrMissingSignature: the request carries no sig parameter.
	ErrMissingSignature = cover.NewError(cover.CodeMissingSignature, "signing: missing signature")
	// ErrBadSignature: the signature is wrong, malformed, of the wrong
	// length, or made with a key this signer does not hold.
	ErrBadSignature = cover.NewError(cover.CodeBadSignature, "signing: bad signature")
	// ErrExpired: the exp parameter is in the past.
	ErrExpired = cover.NewError(cover.CodeExpired, "signing: expired")
	// ErrBadExpiry: exp is not a base-10 integer in [0, 1<<62].
	ErrBadExpiry = cover.NewError(cover.CodeBadExpiry, "signing: bad expiry")
	// ErrNoKeys: signing is enabled but no key is configured.
	ErrNoKeys = errors.New("signing: no keys")
	// ErrBadKey: a configured key is empty, not hex, or too short. Messages
	// name the key's 1-based position only, never its material.
	ErrBadKey = errors.New("signing: bad key")
	// ErrBadURL: SignedURL got something that is not an absolute path with
	// an optional query, or that already carries sig.
	ErrBadURL = errors.New("signing: bad url")
)

// Pre-wrapped errors for the hot path, so a rejected request allocates no
// error value.
var (
	errVerifyMissing = fmt.Errorf("verify: %w", ErrMissingSignature)
	errVerifyBad     = fmt.Errorf("verify: %w", ErrBadSignature)
	errVerifyNoKeys  = fmt.Errorf("verify: %w", ErrNoKeys)
	errExpiryBad     = fmt.Errorf("check expiry: %w", ErrBadExpiry)
	errExpiryExpired = fmt.Errorf("check expiry: %w", ErrExpired)
)
