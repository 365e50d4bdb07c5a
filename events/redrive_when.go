package events

import "time"

// ParseRedriveTime reads a bound of RedriveOptions (Since, Until) as an
// operator gives it: "" is the zero time (no bound), a duration is that
// long before now ("90m"), anything else an RFC3339 time.
func ParseRedriveTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Parse(time.RFC3339, s)
}
