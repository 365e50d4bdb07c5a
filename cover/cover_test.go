package cover

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidBookID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"B1", "a.b_c-D9", strings.Repeat("x", MaxBookIDLength)} {
		if err := ValidBookID(id); err != nil {
			t.Errorf("ValidBookID(%q) = %v, want nil", id, err)
		}
	}
	for _, id := range []string{"", ".hidden", strings.Repeat("x", MaxBookIDLength+1), "a/b", "a b", "é", "..", "a\x00"} {
		if err := ValidBookID(id); !errors.Is(err, ErrInvalidBookID) {
			t.Errorf("ValidBookID(%q) = %v, want ErrInvalidBookID", id, err)
		}
	}
}

func TestVariantKeyRoundTripsAndRefusesOtherForms(t *testing.T) {
	t.Parallel()
	// Keys stored before fit existed keep their spelling.
	for s, k := range map[string]VariantKey{
		"B1/v/320.webp":     {BookID: "B1", Version: "v", Width: 320, Format: "webp"},
		"B1/v/320x480.avif": {BookID: "B1", Version: "v", Width: 320, Height: 480, Format: "avif"},
		"B1/v/200x300f.jpg": {BookID: "B1", Version: "v", Width: 200, Height: 300, Fit: true, Format: "jpg"},
	} {
		if k.String() != s {
			t.Errorf("%+v.String() = %q, want %q", k, k.String(), s)
		}
	}
	for _, k := range []VariantKey{
		{BookID: "B1", Version: "3f9a1c2b7d4e", Width: 320, Format: "webp"},
		{BookID: "B1", Version: "3f9a1c2b7d4e", Width: 320, Height: 480, Format: "avif"},
		{BookID: "B1", Version: "3f9a1c2b7d4e", Width: 200, Height: 300, Fit: true, Format: "jpg"},
	} {
		got, err := ParseVariantKey(k.String())
		if err != nil || got != k {
			t.Errorf("ParseVariantKey(%q) = %+v, %v; want %+v", k.String(), got, err, k)
		}
		if want := "variants/" + k.String(); k.StoreKey() != want {
			t.Errorf("StoreKey = %q, want %q", k.StoreKey(), want)
		}
	}
	for _, s := range []string{"B1/v/320", "B1//320.webp", "B1/v/0320.webp", "B1/v/x.webp", "B1/v/320x.webp", "B1/v/320.webp/x", "B1/v/-1.webp", ".B/v/320.webp",
		"B1/v/320f.webp", "B1/v/320x480F.webp", "B1/v/320x480ff.webp", "B1/v/320xf.webp", "B1/v/320x0480f.webp"} {
		if k, err := ParseVariantKey(s); !errors.Is(err, ErrInvalidVariantKey) && !errors.Is(err, ErrInvalidBookID) {
			t.Errorf("ParseVariantKey(%q) = %+v, %v; want an error", s, k, err)
		}
	}
}

func TestManifestOrder(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	old := Manifest{Version: "a", UpdatedAt: at}
	newer := Manifest{Version: "b", VersionTime: at.Add(time.Microsecond)}
	same := Manifest{Version: "c", VersionTime: at}
	if !newer.Supersedes(old) || old.Supersedes(newer) {
		t.Error("a later version time does not supersede, or an earlier one does")
	}
	if same.Supersedes(old) {
		t.Error("an equal order time supersedes: the first writer must stay")
	}
	if got := OrderTime(time.Date(2026, 1, 1, 0, 0, 0, 1500, time.FixedZone("x", 3600))); got.Location() != time.UTC || got.Nanosecond() != 1000 {
		t.Errorf("OrderTime = %v, want UTC at microsecond precision", got)
	}
}

func TestObjectKeys(t *testing.T) {
	t.Parallel()
	for got, want := range map[string]string{
		OriginalKey("B1", "v1"):                 "originals/B1/v1",
		ManifestKey("B1"):                       "manifests/B1.json",
		MetaKey("B1", "v1"):                     "meta/B1/v1.json",
		VersionVariantsPrefix("B1", "v1"):       "variants/B1/v1/",
		StorageURL("covers", "originals/B1/v1"): "s3://covers/originals/B1/v1",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	p := BookPrefixes("B1")
	if len(p) != 4 || p[len(p)-1] != ManifestKey("B1") {
		t.Errorf("BookPrefixes = %v, want the three prefixes then the manifest key", p)
	}
}
