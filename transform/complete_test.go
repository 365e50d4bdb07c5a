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
	webp := corpus(t, "cover-1200x1800-lossy.webp")
	if _, err := CheckOriginal(webp[:len(webp)/2], 0); !errors.Is(err, ErrNotAnImage) {
		t.Errorf("truncated WebP = %v, want ErrNotAnImage", err)
	}
}
