package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/bookcovers/image-worker/cover"
)

func lookupMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestConfigNamesEveryProblem(t *testing.T) {
	_, err := loadConfig(lookupMap(map[string]string{
		"MAX_IMAGE_SIZE_MB":   "five",
		"PROCESS_TIMEOUT_SEC": "-",
		"COVER_SIZES":         "thumb=8,Big=100",
		"MANIFEST_TTL":        "0",
		"STORE_TIMEOUT":       "0s",
		"WEBP_QUALITY":        "500",
		"GROUPCACHE_PEERS":    "http://10.0.0.2:8081",
		"IMAGE_SIGNING_KEYS":  "zz",
	}))
	if err == nil {
		t.Fatal("loadConfig accepted bad values")
	}
	for _, name := range []string{"MAX_IMAGE_SIZE_MB", "PROCESS_TIMEOUT_SEC", "COVER_SIZES", "MANIFEST_TTL", "STORE_TIMEOUT", "GROUPCACHE_SELF", "IMAGE_SIGNING_KEYS", "WEBP_QUALITY"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
	if strings.Contains(err.Error(), "zz") && !strings.Contains(err.Error(), "IMAGE_SIGNING_KEYS") {
		t.Errorf("error echoes key material: %v", err)
	}
}

func TestConfigRefusesToStartWithoutKeys(t *testing.T) {
	_, err := loadConfig(lookupMap(map[string]string{}))
	if err == nil || !strings.Contains(err.Error(), "IMAGE_SIGNING_KEYS") {
		t.Fatalf("no keys: err = %v, want a refusal naming IMAGE_SIGNING_KEYS", err)
	}
	cfg, err := loadConfig(lookupMap(map[string]string{"IMAGE_SIGNING_DISABLED": "true"}))
	if err != nil || !cfg.Signing.Disabled {
		t.Fatalf("signing disabled: %v", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := loadConfig(lookupMap(map[string]string{"IMAGE_SIGNING_KEYS": testKeyHex}))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"bucket", cfg.S3.Bucket, "book-covers"},
		{"kafka", strings.Join(cfg.Kafka.Brokers, ","), "kafka:9092"},
		{"kafka topic", cfg.Kafka.Topic, "book_enriched"},
		{"kafka group", cfg.Kafka.GroupID, "image-worker"},
		{"dlq", cfg.Kafka.DLQTopic, "book_enriched.dlq"},
		{"results", cfg.Kafka.ResultTopic, "book_cover_ready"},
		{"catalog off", cfg.Catalog.Enabled(), false},
		{"max bytes", cfg.Fetch.MaxBytes, int64(5 << 20)},
		{"timeout", cfg.Fetch.Timeout.String(), "20s"},
		{"listen", cfg.ListenAddr, ":8000"},
		{"internal", cfg.InternalAddr, "127.0.0.1:8081"},
		{"medium", cfg.Proxy.Sizes["medium"], cover.Size{Width: 320}},
		{"max dim", cfg.Proxy.MaxDimension, 2048},
		{"max age", cfg.Proxy.MaxAge.String(), "24h0m0s"},
		{"manifest ttl", cfg.Manifests.TTL.String(), "30s"},
		{"store budget", cfg.StoreTimeout.String(), "2s"},
		{"request store budget", cfg.Proxy.StoreTimeout.String(), "2s"},
		{"fill store phase", cfg.Variants.StoreTimeout.String(), "2s"},
		{"groupcache", cfg.Variants.CacheBytes, int64(256 << 20)},
		{"pixels", cfg.Transform.MaxPixels, int64(50_000_000)},
		{"webp q", cfg.Transform.WebPQuality, 80},
		{"placeholders", cfg.Proxy.Placeholders, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if cfg, _ := loadConfig(lookupMap(map[string]string{"IMAGE_SIGNING_KEYS": testKeyHex, "KAFKA_BROKERS": ""})); cfg.kafkaEnabled() {
		t.Errorf("empty KAFKA_BROKERS = %v, want disabled", cfg.Kafka.Brokers)
	}
}

func TestSignCommandPrintsTestVector(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"sign", "/covers/B123/medium.avif?v=3f9a1c2b7d4e"}, lookupMap(map[string]string{"IMAGE_SIGNING_KEYS": testKeyHex}), &out, &errb)
	want := "/covers/B123/medium.avif?v=3f9a1c2b7d4e&sig=DFFSkeh6rroqt9wYwVckCHLZwgjg2DtmoR8vTHgukGA"
	if code != 0 || strings.TrimSpace(out.String()) != want {
		t.Fatalf("sign = %d %q (stderr %q), want %q", code, out.String(), errb.String(), want)
	}
	out.Reset()
	if code := run(context.Background(), []string{"sign", "/covers/B123/320.webp"}, lookupMap(map[string]string{}), &out, &errb); code == 0 {
		t.Errorf("sign without keys exited 0")
	}
}

func TestHealthCommand(t *testing.T) {
	svc := startService(t, localStore(t), nil, nil)
	addr := strings.TrimPrefix(svc.base, "http://")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"health"}, lookupMap(map[string]string{"LISTEN_ADDR": addr}), &out, &errb); code != 0 {
		t.Fatalf("health against a running service = %d (%s)", code, errb.String())
	}
	svc.stop()
	if code := run(context.Background(), []string{"health"}, lookupMap(map[string]string{"LISTEN_ADDR": addr}), &out, &errb); code == 0 {
		t.Fatalf("health against a stopped service exited 0")
	}
}

func TestConfigSourcePolicy(t *testing.T) {
	cfg, err := loadConfig(lookupMap(map[string]string{"IMAGE_SIGNING_KEYS": testKeyHex}))
	if err != nil || fmt.Sprint(cfg.Fetch.AllowedPorts) != "[80 443]" || len(cfg.Fetch.DenyCIDRs) != 0 {
		t.Fatalf("defaults: ports %v, deny %v (%v); want [80 443], none", cfg.Fetch.AllowedPorts, cfg.Fetch.DenyCIDRs, err)
	}
	cfg, err = loadConfig(lookupMap(map[string]string{"IMAGE_SIGNING_KEYS": testKeyHex,
		"SOURCE_ALLOWED_PORTS": "443, 8443", "SOURCE_DENY_CIDRS": "2600:1f18::/32, 11.0.0.0/8"}))
	if err != nil || fmt.Sprint(cfg.Fetch.AllowedPorts) != "[443 8443]" || strings.Join(cfg.Fetch.DenyCIDRs, ",") != "2600:1f18::/32,11.0.0.0/8" {
		t.Fatalf("set: ports %v, deny %v (%v); want [443 8443], both ranges", cfg.Fetch.AllowedPorts, cfg.Fetch.DenyCIDRs, err)
	}
	for _, tt := range []struct{ name, value, want string }{
		{"SOURCE_ALLOWED_PORTS", "80,http", `"http"`},
		{"SOURCE_ALLOWED_PORTS", "0,443", "port 0 "},
		{"SOURCE_DENY_CIDRS", "10.0.0.0/33", `"10.0.0.0/33"`},
		{"SOURCE_DENY_CIDRS", "pods", `"pods"`},
		{"SOURCE_ALLOW_PRIVATE_HOSTS", "xn--localhost-.example:9000", `"xn--localhost-.example:9000"`},
	} {
		_, err := loadConfig(lookupMap(map[string]string{"IMAGE_SIGNING_KEYS": testKeyHex, tt.name: tt.value}))
		if err == nil || !strings.Contains(err.Error(), tt.name) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s=%s: loadConfig = %v, want an error naming %s and %s", tt.name, tt.value, err, tt.name, tt.want)
		}
	}
}

// TestConfigAllowOrigins: ALLOW_ORIGINS is empty (no CORS) by default, takes
// "*" or a list of origins, and a bad value stops the start naming the
// variable and the value.
func TestConfigAllowOrigins(t *testing.T) {
	for _, tt := range []struct {
		name, value string
		set         bool
		want        []string
	}{
		{"unset", "", false, nil},
		{"empty", "", true, nil},
		{"any", "*", true, []string{"*"}},
		{"list", "https://shop.example.com, http://127.0.0.1:8001", true, []string{"https://shop.example.com", "http://127.0.0.1:8001"}},
	} {
		env := map[string]string{"IMAGE_SIGNING_KEYS": testKeyHex}
		if tt.set {
			env["ALLOW_ORIGINS"] = tt.value
		}
		cfg, err := loadConfig(lookupMap(env))
		if err != nil || fmt.Sprint(cfg.Proxy.AllowOrigins) != fmt.Sprint(tt.want) {
			t.Errorf("%s: ALLOW_ORIGINS=%q: AllowOrigins %q (%v); want %q", tt.name, tt.value, cfg.Proxy.AllowOrigins, err, tt.want)
		}
	}
	for _, tt := range []struct{ value, want string }{
		{"https://shop.example.com/", `"https://shop.example.com/"`},
		{"shop.example.com", `"shop.example.com"`},
		{"*, https://shop.example.com", `"*"`},
		{"null", `"null"`},
		{"https://ok.example.com,https://SHOP.example.com", `"https://SHOP.example.com"`},
	} {
		_, err := loadConfig(lookupMap(map[string]string{"IMAGE_SIGNING_KEYS": testKeyHex, "ALLOW_ORIGINS": tt.value}))
		if err == nil || !strings.Contains(err.Error(), "ALLOW_ORIGINS") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ALLOW_ORIGINS=%q: loadConfig = %v; want an error naming ALLOW_ORIGINS and %s", tt.value, err, tt.want)
		}
	}
}
