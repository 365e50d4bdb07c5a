package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/bookcovers/image-worker/internal/cli"
	"github.com/bookcovers/image-worker/proxy"
	"github.com/bookcovers/image-worker/signing"
)

// signCmd prints a signed cover path: image-worker sign [-ttl 1h] /covers/B123/320.webp
func signCmd(args []string, lookup func(string) (string, bool), stdout io.Writer) error {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	ttl := fs.Duration("ttl", 0, "add exp = now + ttl (0: no expiry)")
	pos, err := parseFlags(fs, args, stdout)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("sign")
	}
	cfg, err := loadConfig(lookup)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	// Refused as the server would refuse it, with its error code.
	if err := cfg.Proxy.CheckCoverURL(pos[0]); err != nil {
		_, code := proxy.ErrorCode(err)
		return fmt.Errorf("%w: %s: %v", cli.ErrUsage, code, err)
	}
	if len(cfg.Signing.Keys) == 0 {
		return fmt.Errorf("IMAGE_SIGNING_KEYS (or IMAGE_SIGNING_KEYS_FILE) is empty: %w", signing.ErrNoKeys)
	}
	signer, err := signing.New(signing.Config{Keys: cfg.Signing.Keys})
	if err != nil {
		return err
	}
	path := pos[0]
	if *ttl > 0 {
		if path, err = signing.WithExpiry(path, time.Now().Add(*ttl)); err != nil {
			return fmt.Errorf("%w: %v", cli.ErrUsage, err)
		}
	}
	signed, err := signer.SignedURL(path)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, signed)
	return nil
}

// keygenCmd prints a new 32-byte signing key as hex (signing.NewKey).
func keygenCmd(args []string, stdout io.Writer) error {
	pos, err := parseFlags(flag.NewFlagSet("keygen", flag.ContinueOnError), args, stdout)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageErr("keygen")
	}
	key, err := signing.NewKey()
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, key)
	return nil
}
