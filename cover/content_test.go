package cover

import (
	"errors"
	"strings"
	"testing"
)

// testContent is a content key (the SHA-256 of "cover").
var testContent = ContentSum([]byte("cover"))

func TestContentKeysRoundTripAndStayApartFromBookKeys(t *testing.T) {
	t.Parallel()
	box := Rect{Left: 40, Top: 30, Width: 320, Height: 480}
	for _, c := range []struct {
		key         VariantKey
		str, stored string
	}{
		{VariantKey{Content: testContent, Width: 320, Format: "webp"},
			"@" + testContent + "/320.webp", "content/" + testContent + "/variants/320.webp"},
		{VariantKey{Content: testContent, Width: 200, Height: 300, Fit: true, Format: "jpg"},
			"@" + testContent + "/200x300f.jpg", "content/" + testContent + "/variants/200x300f.jpg"},
		{VariantKey{Content: testContent, Trim: box, Width: 320, Height: 480, Format: "avif"},
			"@" + testContent + "/trim-40-30-320x480/320x480.avif", "content/" + testContent + "/trim-40-30-320x480/320x480.avif"},
	} {
		if got := c.key.String(); got != c.str {
			t.Errorf("%+v.String() = %q, want %q", c.key, got, c.str)
		}
		if got := c.key.StoreKey(); got != c.stored {
			t.Errorf("%+v.StoreKey() = %q, want %q", c.key, got, c.stored)
		}
		if !strings.HasPrefix(c.key.StoreKey(), ContentPrefix(testContent)) {
			t.Errorf("StoreKey %q is not under the content's prefix", c.key.StoreKey())
		}
		got, err := ParseVariantKey(c.str)
		if err != nil || got != c.key {
			t.Errorf("ParseVariantKey(%q) = %+v, %v; want %+v", c.str, got, err, c.key)
		}
		// The book that asked is no part of the key.
		asked := c.key
		asked.BookID, asked.Version = "B1", testContent[:12]
		if asked.String() != c.str || asked.StoreKey() != c.stored || asked.Shared() != c.key {
			t.Errorf("a content key spelled with the book that asked: %q %q %+v", asked.String(), asked.StoreKey(), asked.Shared())
		}
	}
	// Spellings that are not canonical content keys.
	for _, s := range []string{
		"@" + testContent,
		"@" + testContent + "/",
		"@" + strings.ToUpper(testContent) + "/320.webp",
		"@" + testContent[:63] + "/320.webp",
		"@" + testContent + "0/320.webp",
		"@" + testContent + "/variants/320.webp",
		"@" + testContent + "/trim-40-30-320x480/",
		"@" + testContent + "/trim-040-30-320x480/320.webp",
		"@" + testContent + "/trim-40-30-0x480/320.webp",
		"@" + testContent + "/trim--1-30-320x480/320.webp",
		"@" + testContent + "/trim-40-30-320x480/x/320.webp",
		"@/320.webp",
		"@" + testContent + "/0320.webp",
	} {
		if k, err := ParseVariantKey(s); !errors.Is(err, ErrInvalidVariantKey) {
			t.Errorf("ParseVariantKey(%q) = %+v, %v; want ErrInvalidVariantKey", s, k, err)
		}
	}
	// '@' is outside the book id grammar: no book key spells a content key.
	if err := ValidBookID("@" + testContent); !errors.Is(err, ErrInvalidBookID) {
		t.Errorf("ValidBookID(@content) = %v, want ErrInvalidBookID", err)
	}
}

func TestManifestKeysByContentOrByBook(t *testing.T) {
	t.Parallel()
	old := Manifest{BookID: "B1", Version: "3f9a1c2b7d4e", Width: 600, Height: 900}
	byContent := old
	byContent.Content, byContent.Version = testContent, VersionOf(testContent)
	trimmed := byContent
	trimmed.Trim = Rect{Left: 20, Top: 30, Width: 400, Height: 600}

	if got := old.OriginalKey(); got != "originals/B1/3f9a1c2b7d4e" {
		t.Errorf("old manifest OriginalKey = %q", got)
	}
	if got := byContent.OriginalKey(); got != "content/"+testContent+"/original" {
		t.Errorf("content manifest OriginalKey = %q", got)
	}
	for _, c := range []struct {
		name string
		m    Manifest
		want VariantKey
	}{
		// Clamped to the original (600 wide), keyed by book.
		{"old", old, VariantKey{BookID: "B1", Version: "3f9a1c2b7d4e", Width: 600, Format: "webp"}},
		{"content", byContent, VariantKey{BookID: "B1", Version: VersionOf(testContent), Content: testContent, Width: 600, Format: "webp"}},
		// Clamped to the trim box (400 wide).
		{"trimmed", trimmed, VariantKey{BookID: "B1", Version: VersionOf(testContent), Content: testContent, Trim: trimmed.Trim, Width: 400, Format: "webp"}},
	} {
		if got := c.m.Variant(1000, 0, false, "webp"); got != c.want {
			t.Errorf("%s: Variant(1000) = %+v, want %+v", c.name, got, c.want)
		}
	}
	if w, h := trimmed.RenderSize(); w != 400 || h != 600 {
		t.Errorf("RenderSize of a trimmed manifest = %dx%d, want the box 400x600", w, h)
	}
	if VersionOf(testContent) != testContent[:VersionLength] || len(testContent) != ContentLength || ValidContent(testContent) != nil {
		t.Errorf("ContentSum = %q: not a content key with its version as prefix", testContent)
	}
	for got, want := range map[string]string{
		RefKey("B1", testContent):           "refs/B1/" + testContent,
		BookRefsPrefix("B1"):                "refs/B1/",
		UserKey(testContent, "B1"):          "users/" + testContent + "/B1",
		ContentUsersPrefix(testContent):     "users/" + testContent + "/",
		ContentInfoKey(testContent):         "content/" + testContent + "/info.json",
		ContentPrefix(testContent):          "content/" + testContent + "/",
		ContentOriginalKey(testContent)[:8]: "content/",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestParseVariantStoreKey(t *testing.T) {
	t.Parallel()
	for _, k := range []VariantKey{
		{BookID: "B1", Version: "3f9a1c2b7d4e", Width: 320, Format: "webp"},
		{Content: testContent, Width: 320, Height: 480, Format: "avif"},
		{Content: testContent, Trim: Rect{Left: 1, Top: 2, Width: 30, Height: 40}, Width: 200, Height: 300, Fit: true, Format: "jpg"},
	} {
		got, err := ParseVariantStoreKey(k.StoreKey())
		if err != nil || got != k {
			t.Errorf("ParseVariantStoreKey(%q) = %+v, %v; want %+v", k.StoreKey(), got, err, k)
		}
	}
	for _, s := range []string{
		ContentOriginalKey(testContent), ContentInfoKey(testContent), ManifestKey("B1"), OriginalKey("B1", "v"),
		"content/" + testContent + "/320.webp", "content/" + testContent + "/variants/trim-1-2-30x40/320.webp",
		"content/" + testContent, "content/x/variants/320.webp", RefKey("B1", testContent),
	} {
		if k, err := ParseVariantStoreKey(s); err == nil {
			t.Errorf("ParseVariantStoreKey(%q) = %+v, want an error", s, k)
		}
	}
}
