package signing

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

const (
	hexKeyA = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	hexKeyB = "A0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF"
)

func TestParseKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		wantN    int
		wantErr  bool
		wantPos  []string // positions the error must name
		material []string // key material the error must not contain
	}{
		{name: "empty", in: "", wantN: 0},
		{name: "only spaces", in: "   ", wantN: 0},
		{name: "one key", in: hexKeyA, wantN: 1},
		{name: "two keys with spaces, upper case", in: " " + hexKeyB + " , " + hexKeyA + " ", wantN: 2},
		{name: "16-byte minimum", in: hexKeyA[:32], wantN: 1},
		{name: "odd hex", in: hexKeyA + "," + hexKeyB[:63], wantErr: true, wantPos: []string{"key 2"}, material: []string{hexKeyB[:63], hexKeyB[:16]}},
		{name: "non-hex", in: "zz" + hexKeyA[2:], wantErr: true, wantPos: []string{"key 1"}, material: []string{"zz", hexKeyA[2:18], "U+"}},
		{name: "short key", in: "deadbeefcafebabe", wantErr: true, wantPos: []string{"key 1", "8 bytes"}, material: []string{"deadbeef", "cafebabe"}},
		{name: "empty item", in: hexKeyA + ",," + hexKeyB, wantErr: true, wantPos: []string{"key 2"}, material: []string{hexKeyA[:16], hexKeyB[:16]}},
		{name: "trailing comma", in: hexKeyA + ",", wantErr: true, wantPos: []string{"key 2"}, material: []string{hexKeyA[:16]}},
		{name: "every problem reported", in: "abc,zz,", wantErr: true, wantPos: []string{"key 1", "key 2", "key 3"}, material: []string{"abc", "zz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			keys, err := ParseKeys(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrBadKey) || keys != nil {
					t.Fatalf("ParseKeys(%s) = %d keys, %v; want nil, ErrBadKey", tt.name, len(keys), err)
				}
				msg := err.Error()
				for _, p := range tt.wantPos {
					if !strings.Contains(msg, p) {
						t.Errorf("ParseKeys(%s) error %q does not name %q", tt.name, msg, p)
					}
				}
				for _, m := range tt.material {
					if strings.Contains(strings.ToLower(msg), strings.ToLower(m)) {
						t.Errorf("ParseKeys(%s) error %q contains key material %q", tt.name, msg, m)
					}
				}
				return
			}
			if err != nil || len(keys) != tt.wantN {
				t.Fatalf("ParseKeys(%q) = %d keys, %v; want %d, nil", tt.in, len(keys), err, tt.wantN)
			}
		})
	}
}

func TestParseKeysDecodes(t *testing.T) {
	t.Parallel()
	keys, err := ParseKeys(hexKeyB + "," + hexKeyA)
	if err != nil || len(keys) != 2 {
		t.Fatalf("ParseKeys = %d keys, %v; want 2, nil", len(keys), err)
	}
	if !bytes.Equal(keys[1], vectorKey()) {
		t.Errorf("key 2 = %x, want %x", keys[1], vectorKey())
	}
	if keys[0][0] != 0xa0 || keys[0][31] != 0xbf || len(keys[0]) != 32 {
		t.Errorf("key 1 = %x, want a0..bf (32 bytes)", keys[0])
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      Config
		wantErrs []error
		wantText []string
	}{
		{name: "one key", cfg: Config{Keys: [][]byte{vectorKey()}}},
		{name: "disabled without keys", cfg: Config{Disabled: true}},
		{name: "default", cfg: DefaultConfig(), wantErrs: []error{ErrNoKeys},
			wantText: []string{"IMAGE_SIGNING_KEYS is empty and IMAGE_SIGNING_DISABLED is not true"}},
		{name: "short and empty keys", cfg: Config{Keys: [][]byte{vectorKey(), make([]byte, 15), nil}}, wantErrs: []error{ErrBadKey},
			wantText: []string{"key 2: 15 bytes", "key 3: 0 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if len(tt.wantErrs) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			for _, want := range tt.wantErrs {
				if !errors.Is(err, want) {
					t.Errorf("Validate() = %v, want it to wrap %v", err, want)
				}
			}
			for _, want := range tt.wantText {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %v, want text %q", err, want)
				}
			}
		})
	}
}
