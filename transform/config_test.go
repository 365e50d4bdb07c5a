package transform

import (
	"log/slog"
	"runtime"
	"strings"
	"testing"
)

func TestDefaultConfigIsValid(t *testing.T) {
	t.Parallel()
	c := testConfig() // DefaultConfig plus the command that starts a worker
	if err := c.Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v; want nil", err)
	}
	if c.MaxConcurrent != runtime.GOMAXPROCS(0) || c.WebPQuality != 80 || c.MaxPixels != 50_000_000 {
		t.Fatalf("DefaultConfig() = %+v; want MaxConcurrent=GOMAXPROCS (%d), WebPQuality 80, MaxPixels 50M", c, runtime.GOMAXPROCS(0))
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string // every field named in the joined error
	}{
		{"webp quality 0", func(c *Config) { c.WebPQuality = 0 }, []string{"WebPQuality"}},
		{"webp quality 101", func(c *Config) { c.WebPQuality = 101 }, []string{"WebPQuality"}},
		{"avif quality 0", func(c *Config) { c.AVIFQuality = 0 }, []string{"AVIFQuality"}},
		{"avif effort 0 cannot be passed through govips", func(c *Config) { c.AVIFEffort = 0 }, []string{"AVIFEffort"}},
		{"avif effort 10", func(c *Config) { c.AVIFEffort = 10 }, []string{"AVIFEffort"}},
		{"no workers", func(c *Config) { c.MaxConcurrent = 0 }, []string{"MaxConcurrent"}},
		{"negative queue", func(c *Config) { c.QueueSize = -1 }, []string{"QueueSize"}},
		{"no batch", func(c *Config) { c.MaxBatch = 0 }, []string{"MaxBatch"}},
		{"batch over a ladder", func(c *Config) { c.MaxBatch = MaxLadder + 1 }, []string{"MaxBatch"}},
		{"no pixel limit", func(c *Config) { c.MaxPixels = 0 }, []string{"MaxPixels"}},
		{"vips threads 0", func(c *Config) { c.VipsConcurrency = 0 }, []string{"VipsConcurrency"}},
		{"no worker command", func(c *Config) { c.WorkerCommand = nil }, []string{"WorkerCommand"}},
		{"everything wrong at once", func(c *Config) { *c = Config{QueueSize: -1} },
			[]string{"WebPQuality", "AVIFQuality", "AVIFEffort", "MaxConcurrent", "MaxBatch", "QueueSize", "MaxPixels", "VipsConcurrency", "WorkerCommand"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := testConfig()
			tc.mutate(&c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate(%+v) = nil; want an error naming %v", c, tc.want)
			}
			for _, field := range tc.want {
				if !strings.Contains(err.Error(), field) {
					t.Errorf("Validate(%+v) = %q; want it to name %s", c, err, field)
				}
			}
			if _, err := NewRenderer(c, slog.New(slog.DiscardHandler)); err == nil {
				t.Fatalf("NewRenderer(%+v) = nil error; want the validation error", c)
			}
		})
	}
	t.Run("queue of zero is allowed", func(t *testing.T) {
		t.Parallel()
		c := testConfig()
		c.QueueSize = 0
		if err := c.Validate(); err != nil {
			t.Fatalf("Validate(QueueSize 0) = %v; want nil", err)
		}
	})
}
