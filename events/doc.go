// Package events is the Kafka adapter (franz-go): it consumes book_enriched
// events, warms each cover through the same pipeline as POST /process,
// retries passing failures with backoff, dead-letters the rest, publishes
// result events and reports consumer lag. Redrive copies dead letters back
// (ParseRedriveTime reads its time bounds as an operator gives them).
//
// Consume: a consumer group (GroupID) on Topic with manual commits only. One
// goroutine per assigned partition keeps order within the partition; a
// semaphore bounds warms in flight across partitions (Concurrency) and is
// released while a record sleeps in backoff, so one retrying partition never
// stalls the others. A partition whose queue passes 1000 records is paused
// until it drains. Each record's offset is committed once its outcome is
// final: succeeded (after Outcomes.Succeeded), refused (the original is a
// placeholder: after Outcomes.Refused, never dead-lettered), skipped (no
// cover_image_url) or written to the DLQ. A 404 or 410 for a book without a
// cover is told to Outcomes.Refused too (cover_status missing) before it is
// dead-lettered as source_rejected. Delivery is at-least-once: a record may be warmed
// again after a crash or rebalance, which Warm tolerates (same book and URL
// already stored: no download) and result events may repeat.
//
// Order: an event's cover is ordered against the book's others by the
// event's enriched_at (RFC 3339; ignored when not a string of that form),
// else by its record's time: the original_timestamp header of a redriven
// record (HeaderOriginalTimestamp), else the record's timestamp. Warm gets
// that time; an event not newer than the book's cover (a replay, a late
// redrive, a racing replica's older event) fetches nothing and the
// outcome reports the current, newer cover, so the result event names it
// and the catalog write-back is a stale no-op. Ties: the cover that got
// there first stays.
//
// Retry: failures that ingest.Retryable accepts (timeouts, connection errors,
// upstream 5xx, storage unavailable) and failed outcomes are retried with
// exponential backoff and full jitter (RetryBase, RetryMax) up to MaxAttempts
// attempts; everything else goes to the DLQ at once with attempts=1. A bad
// event (not a JSON object, invalid book_id) goes to the DLQ with code
// bad_event.
//
// Dead letters keep the original key and value; their headers are
// error_code, error_message (the code's fixed public text), attempts,
// source_topic, source_partition, source_offset, failed_at (RFC 3339) and
// original_timestamp (the time the event first arrived, RFC 3339). If
// the DLQ cannot be written, the record is not committed: the write is
// retried with backoff while its partition waits; it is never dropped.
//
// Rebalance and shutdown: on revoke or when Run's context ends, a partition
// takes no new record; in-flight records get ShutdownGrace to finish and are
// committed, the rest are abandoned uncommitted (delivered again later).
// Lost partitions are abandoned at once. Run then leaves the group.
//
// Results: after a success, Results publishes {"state":"succeeded",...} keyed
// by book id to ResultTopic, with the cover's version_time (a later one names
// a newer cover), its width, height, dominant colour and blurhash and
// cover_status "ok"; Failed publishes job failures and refusals with
// "state":"failed" (a refused placeholder's error carries its reason, and
// cover_status says missing or placeholder when the book has no cover).
//
// Catalog writes a stored cover back to the book catalog in PostgreSQL
// (CATALOG_DATABASE_URL; empty turns it off): one UPDATE of CATALOG_TABLE
// setting the storage URL, version and updated-at columns, and the optional
// width, height, dominant colour, blurhash and status ("ok") columns that
// are named (none by default), where the book id matches and the stored
// updated-at (the cover's version time) is NULL or older, so a redelivered
// event is a successful no-op and an older event never moves a book back.
// With a status column, UpdateStatus writes missing or placeholder to a row
// that holds no cover, ordered the same way, and a cover replaces such a
// row whatever its time.
// Identifiers are validated and quoted, values are always parameters. A book
// without a row is ErrCatalogNoRow (counted and logged, not retried);
// connection failures and timeouts are ErrCatalogUnavailable (retryable).
// The pool is small and connects lazily: NewCatalog never dials, Ping does.
//
// It does not fetch, validate, store or render: that is ingest (Warmer) and
// transform. It calls no os.Getenv: ConfigFromEnv and CatalogConfigFromEnv
// (env.go) read the KAFKA_* and CATALOG_* variables through the Reader cmd
// hands them.
//
// Metrics (Consumer.Metrics): covers_kafka_events_total{result="succeeded|
// refused|skipped|dead_lettered|failed"} (failed: abandoned on revoke or shutdown
// without an outcome, redelivered later), covers_kafka_dead_letters_total{code},
// covers_kafka_processing_duration_seconds, covers_kafka_retries_total,
// covers_kafka_in_flight, covers_kafka_lag_records{partition} (high watermark
// minus the group's committed offset, every LagInterval; what an autoscaler
// such as KEDA scales on), covers_kafka_dlq_write_errors_total,
// covers_kafka_commit_errors_total, covers_kafka_lag_errors_total,
// covers_panics_total{component="kafka_consumer"} (an event whose warm or
// outcome panicked is dead-lettered with code "internal").
// Results.Metrics: covers_kafka_results_published_total{state="succeeded|failed"},
// covers_kafka_result_errors_total. Catalog.Metrics:
// covers_catalog_updates_total{result="updated|stale|no_row|error"},
// covers_catalog_update_duration_seconds.
package events
