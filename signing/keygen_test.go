package signing

import "testing"

// TestNewKey: a new key is RecommendedKeyBytes of hex that ParseKeys
// accepts, and two are never the same.
func TestNewKey(t *testing.T) {
	t.Parallel()
	a, err := NewKey()
	if err != nil {
		t.Fatalf("NewKey: %v", err)
	}
	b, err := NewKey()
	if err != nil {
		t.Fatalf("NewKey: %v", err)
	}
	keys, err := ParseKeys(a + "," + b)
	if err != nil || len(keys) != 2 || len(keys[0]) != RecommendedKeyBytes {
		t.Fatalf("ParseKeys(%q, %q) = %d keys, %v; want 2 of %d bytes", a, b, len(keys), err, RecommendedKeyBytes)
	}
	if a == b {
		t.Errorf("two new keys are both %q", a)
	}
}
