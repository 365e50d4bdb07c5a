package events

import (
	"testing"
	"time"
)

func TestParseRedriveTime(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"", time.Time{}, false},
		{"90m", now.Add(-90 * time.Minute), false},
		{"0s", now, false},
		{"2026-02-28T08:30:00Z", time.Date(2026, 2, 28, 8, 30, 0, 0, time.UTC), false},
		{"2026-02-28T08:30:00+02:00", time.Date(2026, 2, 28, 6, 30, 0, 0, time.UTC), false},
		{"-1h", time.Time{}, true}, // not a time ago, not RFC3339
		{"yesterday", time.Time{}, true},
		{"2026-02-28", time.Time{}, true},
	}
	for _, tc := range tests {
		got, err := ParseRedriveTime(tc.in, now)
		if !got.Equal(tc.want) || (err != nil) != tc.wantErr {
			t.Errorf("ParseRedriveTime(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}
