package signing

import "time"

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
