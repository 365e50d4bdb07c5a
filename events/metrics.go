package events

import (
	"fmt"
	"strconv"

	"github.com/VictoriaMetrics/metrics"
)

// Values of the result label of covers_kafka_events_total.
const (
	resultSucceeded    = "succeeded"
	resultSkipped      = "skipped"
	resultDeadLettered = "dead_lettered"
	resultFailed       = "failed"
	resultRefused      = "refused"
)

// consumerMetrics are the consumer's series, all in its own set.
type consumerMetrics struct {
	set *metrics.Set

	succeeded, skipped, deadLettered, failed, refused *metrics.Counter

	duration       *metrics.PrometheusHistogram
	retries        *metrics.Counter
	inFlight       *metrics.Gauge
	dlqWriteErrors *metrics.Counter
	commitErrors   *metrics.Counter
	lagErrors      *metrics.Counter
	panics         *metrics.Counter
}

func newConsumerMetrics() *consumerMetrics {
	set := metrics.NewSet()
	events := func(result string) *metrics.Counter {
		return set.NewCounter(`covers_kafka_events_total{result="` + result + `"}`)
	}
	return &consumerMetrics{
		set:            set,
		succeeded:      events(resultSucceeded),
		skipped:        events(resultSkipped),
		deadLettered:   events(resultDeadLettered),
		failed:         events(resultFailed),
		refused:        events(resultRefused),
		duration:       set.NewPrometheusHistogramExt("covers_kafka_processing_duration_seconds", processingBuckets),
		retries:        set.NewCounter("covers_kafka_retries_total"),
		inFlight:       set.NewGauge("covers_kafka_in_flight", nil),
		dlqWriteErrors: set.NewCounter("covers_kafka_dlq_write_errors_total"),
		commitErrors:   set.NewCounter("covers_kafka_commit_errors_total"),
		lagErrors:      set.NewCounter("covers_kafka_lag_errors_total"),
		panics:         set.NewCounter(`covers_panics_total{component="kafka_consumer"}`),
	}
}

// deadLetters counts one dead letter by its code. Codes come from a fixed
// set (failureCode), so the label stays low-cardinality.
func (m *consumerMetrics) deadLetters(code string) *metrics.Counter {
	return m.set.GetOrCreateCounter(fmt.Sprintf(`covers_kafka_dead_letters_total{code=%q}`, code))
}

// lag is the gauge of one partition of the consumed topic.
func (m *consumerMetrics) lag(partition int32) *metrics.Gauge {
	return m.set.GetOrCreateGauge(`covers_kafka_lag_records{partition="`+strconv.Itoa(int(partition))+`"}`, nil)
}

// processingBuckets are the upper bounds, in seconds, of the per-record
// processing histogram: a record whose cover is already current takes a
// millisecond; a warm is a fetch, a check render and store writes (0.1-2 s),
// bounded by the job timeout.
var processingBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
