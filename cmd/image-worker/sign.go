package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/bookcovers/image-worker/signing"
)

// signCmd prints a signed cover path: image-worker sign [-ttl 1h] /covers/B123/320.webp
func signCmd(args []string, lookup func(string) (string, bool), stdout io.Writer) error {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	ttl := fs.Duration("ttl", 0, "add exp = now + ttl (0: no expiry)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: image-worker sign [-ttl 1h] /covers/BOOK/SIZE.FORMAT[?v=...]", errUsage)
	}
	e := &env{lookup: lookup}
	keys, err := signing.ParseKeys(e.secret("IMAGE_SIGNING_KEYS"))
	if err != nil {
		return fmt.Errorf("IMAGE_SIGNING_KEYS: %w", err)
	}
	if len(keys) == 0 {
		return fmt.Errorf("IMAGE_SIGNING_KEYS (or IMAGE_SIGNING_KEYS_FILE) is empty: %w", signing.ErrNoKeys)
	}
	signer, err := signing.New(signing.Config{Keys: keys})
	if err != nil {
		return err
	}
	path := fs.Arg(0)
	if *ttl > 0 {
		u, err := url.Parse(path)
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		q := u.Query()
		q.Set("exp", strconv.FormatInt(time.Now().Add(*ttl).Unix(), 10))
		u.RawQuery = q.Encode()
		path = u.String()
	}
	signed, err := signer.SignedURL(path)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, signed)
	return nil
}

// keygenCmd prints a new 32-byte signing key as hex.
func keygenCmd(stdout io.Writer) error {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	fmt.Fprintln(stdout, hex.EncodeToString(b[:]))
	return nil
}
