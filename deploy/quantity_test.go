package deploy

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// milliCPU parses a Kubernetes CPU quantity ("2", "500m", "1.5"); -1 if malformed.
func milliCPU(q string) int {
	if v, ok := strings.CutSuffix(q, "m"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return -1
		}
		return n
	}
	f, err := strconv.ParseFloat(q, 64)
	if err != nil {
		return -1
	}
	return int(f * 1000)
}

// mebibytes parses a Kubernetes memory quantity ("640Mi", "1Gi", "800M",
// "1G", bytes) into whole MiB; -1 if malformed.
func mebibytes(q string) int {
	units := []struct {
		suffix string
		bytes  float64
	}{
		{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30},
		{"k", 1e3}, {"M", 1e6}, {"G", 1e9},
	}
	mult := 1.0
	for _, u := range units {
		if v, ok := strings.CutSuffix(q, u.suffix); ok {
			q, mult = v, u.bytes
			break
		}
	}
	f, err := strconv.ParseFloat(q, 64)
	if err != nil || f < 0 {
		return -1
	}
	return int(f * mult / (1 << 20))
}

// parseSeconds reads a duration the way the service does: Go syntax or whole seconds.
func parseSeconds(t *testing.T, v string) float64 {
	t.Helper()
	if n, err := strconv.Atoi(v); err == nil {
		return float64(n)
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("duration %q: %v", v, err)
	}
	return d.Seconds()
}

func TestQuantities(t *testing.T) {
	cpu := []struct {
		in   string
		want int
	}{
		{"2", 2000}, {"500m", 500}, {"1.5", 1500}, {"", -1}, {"two", -1},
	}
	for _, tt := range cpu {
		t.Run("cpu "+tt.in, func(t *testing.T) {
			if got := milliCPU(tt.in); got != tt.want {
				t.Errorf("milliCPU(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
	mem := []struct {
		in   string
		want int
	}{
		{"640Mi", 640}, {"1Gi", 1024}, {"1G", 953}, {"1048576", 1}, {"512Ki", 0}, {"", -1}, {"1Xi", -1},
	}
	for _, tt := range mem {
		t.Run("memory "+tt.in, func(t *testing.T) {
			if got := mebibytes(tt.in); got != tt.want {
				t.Errorf("mebibytes(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}
