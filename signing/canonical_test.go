package signing

import (
	"net/url"
	"testing"
)

func TestCanonical(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		path   string
		params url.Values
		want   string
	}{
		{"no params", "/covers/B123/320.webp", nil, "/covers/B123/320.webp"},
		{"empty values map", "/covers/B123/320.webp", url.Values{}, "/covers/B123/320.webp"},
		{"name with no values", "/c/x.webp", url.Values{"v": {}}, "/c/x.webp"},
		{"one param", "/covers/B123/medium.avif", url.Values{"v": {"3f9a1c2b7d4e"}}, "/covers/B123/medium.avif?v=3f9a1c2b7d4e"},
		{"two sorted", "/c/x.webp", url.Values{"exp": {"1893456000"}, "v": {"abc"}}, "/c/x.webp?exp=1893456000&v=abc"},
		{"names out of order", "/c/x.webp", url.Values{"zeta": {"1"}, "alpha": {"2"}, "mid": {"3"}}, "/c/x.webp?alpha=2&mid=3&zeta=1"},
		{"sig is ignored", "/c/x.webp", url.Values{"sig": {"abc"}, "v": {"1"}}, "/c/x.webp?v=1"},
		{"only sig", "/c/x.webp", url.Values{"sig": {"abc"}}, "/c/x.webp"},
		{"several values sorted", "/c/x.webp", url.Values{"v": {"b", "a"}, "exp": {"9"}}, "/c/x.webp?exp=9&v=a&v=b"},
		{"values used unescaped", "/c/a b.webp", url.Values{"v": {"a b&c"}}, "/c/a b.webp?v=a b&c"},
		{"empty value", "/c/x.webp", url.Values{"v": {""}}, "/c/x.webp?v="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Canonical(tt.path, tt.params); got != tt.want {
				t.Errorf("Canonical(%q, %v) = %q, want %q", tt.path, tt.params, got, tt.want)
			}
		})
	}
}

func TestCanonicalDoesNotReorderCallerValues(t *testing.T) {
	t.Parallel()
	params := url.Values{"v": {"b", "a"}}
	_ = Canonical("/x", params)
	if params["v"][0] != "b" || params["v"][1] != "a" {
		t.Errorf("Canonical reordered the caller's values: %v, want [b a]", params["v"])
	}
}
