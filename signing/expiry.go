package signing

import (
	"net/url"
	"strconv"
	"time"
)

// expParam is the query parameter that names a link's expiry.
const expParam = "exp"

// MaxExpiry is the largest exp accepted, in Unix seconds.
const MaxExpiry = 1 << 62

// CheckExpiry checks the exp parameter (Unix seconds) against now. "" means
// no expiry. exp must be plain ASCII digits (no sign, spaces or exponent)
// with a value in [0, MaxExpiry], else ErrBadExpiry. A link is expired from
// the second it names: now >= exp gives ErrExpired. It allocates nothing.
func CheckExpiry(exp string, now time.Time) error {
	if exp == "" {
		return nil
	}
	var n uint64
	for i := 0; i < len(exp); i++ {
		c := exp[i]
		if c < '0' || c > '9' {
			return errExpiryBad
		}
		if n > MaxExpiry/10 {
			return errExpiryBad
		}
		n = n*10 + uint64(c-'0')
		if n > MaxExpiry {
			return errExpiryBad
		}
	}
	if now.Unix() >= int64(n) {
		return errExpiryExpired
	}
	return nil
}

// WithExpiry sets exp to at (Unix seconds) in the query of pathAndQuery,
// replacing any exp it carries, for SignedURL to sign: a link that expires
// at that second. The query comes out as net/url encodes it (sorted by
// name). A path net/url cannot parse is its error.
func WithExpiry(pathAndQuery string, at time.Time) (string, error) {
	u, err := url.Parse(pathAndQuery)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set(expParam, strconv.FormatInt(at.Unix(), 10))
	u.RawQuery = q.Encode()
	return u.String(), nil
}
