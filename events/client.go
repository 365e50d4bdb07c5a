package events

import (
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
)

// NewProducer returns a producing client for cfg.Brokers: every broker must
// acknowledge (acks=all, idempotent). cmd builds one for Results; the
// consumer builds its own for dead letters. Extra options come last and win.
func NewProducer(cfg Config, opts ...kgo.Opt) (*kgo.Client, error) {
	all := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ClientID("image-worker"),
	}, opts...)
	cl, err := kgo.NewClient(all...)
	if err != nil {
		return nil, fmt.Errorf("new kafka producer: %w", err)
	}
	return cl, nil
}

// kgoLogger forwards franz-go's warnings and errors to slog; its info and
// debug chatter stays out of the service log.
type kgoLogger struct{ log *slog.Logger }

func (l kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (l kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	switch level {
	case kgo.LogLevelError:
		l.log.Error("kafka client: "+msg, keyvals...)
	case kgo.LogLevelWarn:
		l.log.Warn("kafka client: "+msg, keyvals...)
	}
}
