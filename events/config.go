package events

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// Config configures the Kafka adapter: the consumer, its dead-letter queue,
// result events, the lag gauge and redrive.
type Config struct {
	Brokers     []string      // seed brokers, host:port (KAFKA_BROKERS; empty disables Kafka in cmd)
	Topic       string        // consumed topic (KAFKA_TOPIC)
	GroupID     string        // consumer group (KAFKA_GROUP_ID)
	DLQTopic    string        // dead-letter topic (KAFKA_DLQ_TOPIC)
	ResultTopic string        // result events; "" disables them (KAFKA_RESULT_TOPIC)
	Concurrency int           // warms in flight across all partitions (KAFKA_CONCURRENCY)
	RetryBase   time.Duration // first backoff ceiling, doubles per retry (KAFKA_RETRY_BASE)
	RetryMax    time.Duration // backoff ceiling cap (KAFKA_RETRY_MAX)
	MaxAttempts int           // attempts of a retryable failure before the DLQ (KAFKA_MAX_ATTEMPTS)
	Bucket      string        // bucket named in storage_url of result events
	LagInterval time.Duration // how often covers_kafka_lag_records is computed (KAFKA_LAG_INTERVAL)
	// ShutdownGrace is how long in-flight records may run on after a revoke
	// or shutdown before they are abandoned uncommitted (KAFKA_SHUTDOWN_GRACE).
	ShutdownGrace time.Duration
}

// DefaultConfig returns the defaults of the issue.
func DefaultConfig() Config {
	return Config{
		Brokers:       []string{"kafka:9092"},
		Topic:         "book_enriched",
		GroupID:       "image-worker",
		DLQTopic:      "book_enriched.dlq",
		ResultTopic:   "book_cover_ready",
		Concurrency:   4,
		RetryBase:     time.Second,
		RetryMax:      60 * time.Second,
		MaxAttempts:   5,
		Bucket:        "book-covers",
		LagInterval:   15 * time.Second,
		ShutdownGrace: 10 * time.Second,
	}
}

// maxTopicLength is Kafka's limit on topic names.
const maxTopicLength = 249

// Validate reports every problem of c, joined, naming the variables.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("kafka config: "+format, args...))
	}
	if len(c.Brokers) == 0 {
		add("KAFKA_BROKERS must list at least one host:port")
	}
	for _, b := range c.Brokers {
		if host, port, err := net.SplitHostPort(b); err != nil || host == "" || !validPort(port) {
			add("KAFKA_BROKERS: %q is not host:port", b)
		}
	}
	if err := validTopic(c.Topic); err != nil {
		add("KAFKA_TOPIC: %w", err)
	}
	if c.GroupID == "" || len(c.GroupID) > maxTopicLength {
		add("KAFKA_GROUP_ID must be 1-%d bytes, got %d", maxTopicLength, len(c.GroupID))
	}
	if err := validTopic(c.DLQTopic); err != nil {
		add("KAFKA_DLQ_TOPIC: %w", err)
	} else if c.DLQTopic == c.Topic {
		add("KAFKA_DLQ_TOPIC must differ from KAFKA_TOPIC (%q)", c.Topic)
	}
	if c.ResultTopic != "" {
		if err := validTopic(c.ResultTopic); err != nil {
			add("KAFKA_RESULT_TOPIC: %w", err)
		} else if c.ResultTopic == c.Topic || c.ResultTopic == c.DLQTopic {
			add("KAFKA_RESULT_TOPIC must differ from KAFKA_TOPIC and KAFKA_DLQ_TOPIC")
		}
		if c.Bucket == "" {
			add("the storage bucket (IMAGE_STORAGE_BUCKET) must be set for result events")
		}
	}
	if c.Concurrency < 1 {
		add("KAFKA_CONCURRENCY must be at least 1, got %d", c.Concurrency)
	}
	if c.RetryBase <= 0 {
		add("KAFKA_RETRY_BASE must be positive, got %s", c.RetryBase)
	}
	if c.RetryMax < c.RetryBase {
		add("KAFKA_RETRY_MAX (%s) must not be below KAFKA_RETRY_BASE (%s)", c.RetryMax, c.RetryBase)
	}
	if c.MaxAttempts < 1 {
		add("KAFKA_MAX_ATTEMPTS must be at least 1, got %d", c.MaxAttempts)
	}
	if c.LagInterval <= 0 {
		add("KAFKA_LAG_INTERVAL must be positive, got %s", c.LagInterval)
	}
	if c.ShutdownGrace <= 0 {
		add("KAFKA_SHUTDOWN_GRACE must be positive, got %s", c.ShutdownGrace)
	}
	return errors.Join(errs...)
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0 && n < 65536
}

// validTopic checks Kafka's topic grammar: 1-249 bytes of [A-Za-z0-9._-],
// not "." or "..".
func validTopic(t string) error {
	if t == "" || len(t) > maxTopicLength {
		return fmt.Errorf("topic must be 1-%d bytes, got %d", maxTopicLength, len(t))
	}
	if t == "." || t == ".." {
		return fmt.Errorf("topic %q is reserved", t)
	}
	for i := 0; i < len(t); i++ {
		switch ch := t[i]; {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9', ch == '.', ch == '_', ch == '-':
		default:
			return fmt.Errorf("topic %q: byte %d not in [A-Za-z0-9._-]", t, i)
		}
	}
	return nil
}
