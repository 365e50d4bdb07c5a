package transform

import (
	"errors"
	"testing"
)

func TestCheckOriginalRefusesTruncatedFiles(t *testing.T) {
	for _, name := range []string{"photo-1600x2400-baseline.jpg", "photo-exif-orientation-6.jpg", "cover-800x1200-alpha.png", "cover-240x360-animated-6frames.gif"} {
		data := testdata(t, name)
		if _, err := CheckOriginal(data, 0); err != nil {
			t.Errorf("CheckOriginal(%s) = %v, want ok", name, err)
		}
		for _, frac := range []int{30, 60, 90, 99} {
			cut := data[:len(data)*frac/100]
			if _, err := CheckOriginal(cut, 0); !errors.Is(err, ErrNotAnImage) {
				t.Errorf("CheckOriginal(%s cut at %d%%) = %v, want ErrNotAnImage", name, frac, err)
			}
		}
	}
	webp := testdata(t, "cover-1200x1800-lossy.webp")
	if _, err := CheckOriginal(webp[:len(webp)/2], 0); !errors.Is(err, ErrNotAnImage) {
		t.Errorf("truncated WebP = %v, want ErrNotAnImage", err)
	}
}

// TestCheckOriginalRefusesTruncatedHEIF: an AVIF or HEIC cut anywhere after
// its header probes fine (TestProbeHostile), but its top-level boxes no
// longer add up, so the ingest check refuses it.
func TestCheckOriginalRefusesTruncatedHEIF(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"cover-1200x1800.avif", "cover-1200x1800.heic"} {
		data := testdata(t, name)
		if _, err := CheckOriginal(data, 0); err != nil {
			t.Errorf("CheckOriginal(%s) = %v, want ok", name, err)
		}
		for _, cut := range truncations(data) {
			if _, err := CheckOriginal(cut, 0); !errors.Is(err, ErrNotAnImage) {
				t.Errorf("CheckOriginal(%s cut to %d of %d bytes) = %v, want ErrNotAnImage", name, len(cut), len(data), err)
			}
		}
	}
}

// TestCheckOriginalRefusesHostileClasses: whatever Probe refuses, the ingest
// check refuses with the same sentinel; what Probe accepts is either
// accepted or refused as ErrNotAnImage (a truncated body).
func TestCheckOriginalRefusesHostileClasses(t *testing.T) {
	t.Parallel()
	for _, tc := range hostileClasses(t) {
		_, err := CheckOriginal(tc.data, hostileLimit)
		switch {
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("CheckOriginal(%s) = %v, want %v", tc.name, err, tc.want)
		case tc.want == nil && err != nil && !errors.Is(err, ErrNotAnImage):
			t.Errorf("CheckOriginal(%s) = %v, want ok or ErrNotAnImage", tc.name, err)
		}
	}
}
