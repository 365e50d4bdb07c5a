package events

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigIsValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v, want nil", err)
	}
	c := DefaultConfig()
	if c.Topic != "book_enriched" || c.GroupID != "image-worker" || c.DLQTopic != "book_enriched.dlq" ||
		c.ResultTopic != "book_cover_ready" || c.Concurrency != 4 || c.RetryBase != time.Second ||
		c.RetryMax != time.Minute || c.MaxAttempts != 5 || c.LagInterval != 15*time.Second {
		t.Errorf("DefaultConfig() = %+v, want the documented defaults", c)
	}
}

func TestConfigValidateNamesEachVariable(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string
	}{
		{"no brokers", func(c *Config) { c.Brokers = nil }, []string{"KAFKA_BROKERS"}},
		{"broker without port", func(c *Config) { c.Brokers = []string{"kafka"} }, []string{"KAFKA_BROKERS"}},
		{"bad topic", func(c *Config) { c.Topic = "a b" }, []string{"KAFKA_TOPIC"}},
		{"empty group", func(c *Config) { c.GroupID = "" }, []string{"KAFKA_GROUP_ID"}},
		{"DLQ is the topic", func(c *Config) { c.DLQTopic = c.Topic }, []string{"KAFKA_DLQ_TOPIC"}},
		{"bad result topic", func(c *Config) { c.ResultTopic = "x/y" }, []string{"KAFKA_RESULT_TOPIC"}},
		{"no concurrency", func(c *Config) { c.Concurrency = 0 }, []string{"KAFKA_CONCURRENCY"}},
		{"retry max below base", func(c *Config) { c.RetryBase, c.RetryMax = time.Second, time.Millisecond }, []string{"KAFKA_RETRY_MAX"}},
		{"zero retry base", func(c *Config) { c.RetryBase = 0 }, []string{"KAFKA_RETRY_BASE"}},
		{"no attempts", func(c *Config) { c.MaxAttempts = 0 }, []string{"KAFKA_MAX_ATTEMPTS"}},
		{"everything at once", func(c *Config) {
			c.Brokers, c.Topic, c.GroupID, c.Concurrency, c.MaxAttempts = nil, "", "", -1, -1
		}, []string{"KAFKA_BROKERS", "KAFKA_TOPIC", "KAFKA_GROUP_ID", "KAFKA_CONCURRENCY", "KAFKA_MAX_ATTEMPTS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.modify(&c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want an error naming %v", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to name %s", err, w)
				}
			}
		})
	}
}

func TestConfigResultTopicMayBeEmpty(t *testing.T) {
	c := DefaultConfig()
	c.ResultTopic, c.Bucket = "", ""
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() with results disabled = %v, want nil", err)
	}
}
