package events

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Outlets are where processed covers are reported to the rest of the
// system: the result events on KAFKA_RESULT_TOPIC and the catalog
// write-back, behind one Notifier.
type Outlets struct {
	producer *kgo.Client // nil without result events
	// Results publishes result events; nil without brokers or a result topic.
	Results *Results
	// Catalog writes covers back to the catalog; nil without a database URL.
	Catalog *Catalog
	// Notifier reports to both; always set, and does nothing for an absent one.
	Notifier *Notifier
}

// NewOutlets builds the result-event producer (when kafka names brokers
// and a result topic) and the catalog writer (when catalog is enabled).
// bucket is the store's, for the storage URLs they report.
func NewOutlets(ctx context.Context, kafka Config, catalog CatalogConfig, bucket string, logger *slog.Logger) (*Outlets, error) {
	o := &Outlets{}
	if len(kafka.Brokers) > 0 && kafka.ResultTopic != "" {
		p, err := NewProducer(kafka)
		if err != nil {
			return nil, err
		}
		o.producer = p
		o.Results = NewResults(p, kafka)
	}
	if catalog.Enabled() {
		c, err := NewCatalog(ctx, catalog, logger)
		if err != nil {
			o.Close()
			return nil, fmt.Errorf("catalog: %w", err)
		}
		o.Catalog = c
	}
	o.Notifier = NewNotifier(o.Results, o.Catalog, bucket, logger)
	return o, nil
}

// Close closes the producer and the catalog's connections.
func (o *Outlets) Close() {
	if o.producer != nil {
		o.producer.Close()
	}
	if o.Catalog != nil {
		o.Catalog.Close()
	}
}
