package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bookcovers/image-worker/events"
)

// outlets are what reports processed covers to the rest of the system.
type outlets struct {
	producer *kgo.Client      // nil without Kafka
	results  *events.Results  // nil without Kafka or KAFKA_RESULT_TOPIC
	catalog  *events.Catalog  // nil without CATALOG_DATABASE_URL
	notifier *events.Notifier // always set; its parts may be absent
}

// newOutlets builds the result-event producer and the catalog writer.
func newOutlets(ctx context.Context, cfg config, logger *slog.Logger) (*outlets, error) {
	o := &outlets{}
	var results *events.Results
	if cfg.kafkaEnabled() && cfg.Kafka.ResultTopic != "" {
		p, err := events.NewProducer(cfg.Kafka)
		if err != nil {
			return nil, err
		}
		o.producer = p
		results = events.NewResults(p, cfg.Kafka)
		o.results = results
	}
	if cfg.Catalog.Enabled() {
		c, err := events.NewCatalog(ctx, cfg.Catalog, logger)
		if err != nil {
			o.close()
			return nil, fmt.Errorf("catalog: %w", err)
		}
		o.catalog = c
	}
	o.notifier = events.NewNotifier(results, o.catalog, cfg.S3.Bucket, logger)
	return o, nil
}

func (o *outlets) close() {
	if o.producer != nil {
		o.producer.Close()
	}
	if o.catalog != nil {
		o.catalog.Close()
	}
}
