// Package ingest takes originals in: the safe fetcher (SSRF policy checked at
// dial time, redirect re-checks, streaming size cap, retries with backoff
// inside one time budget; the policy's ports, deny ranges and allow list are
// in destpolicy.go), validation by magic bytes and header dimensions,
// storing the original and its manifest (Warmer), and the durable job queue
// behind POST /process (Jobs), and the write-back outbox (Outbox): every
// effect of a stored cover or a failed job (result event, catalog update) is
// recorded as an entry under outbox/ in the store before the job or event
// counts as done, then delivered in the background, retried with backoff
// forever, by whichever serving replica claims it. It is transport-agnostic: HTTP, Kafka and the
// CLI call the same Warmer. It renders variants only to warm a new cover:
// the Prerenderer (PRERENDER) renders the configured variants of a freshly
// stored original in one ladder operation (transform.RenderLadderEach) and
// writes them under their variant keys; it never fails a warm. Which
// variants those are is PRERENDER's grammar, ParsePrerender (a preset, W,
// WxH or WxHf, with an optional .FORMAT), and by default DefaultPrerender
// (every preset in WebP and AVIF).
//
// Cover quality (quality.go): the Warmer classifies every original that
// passed the check with its PlaceholderRules before storing it: tiny (a side
// or the byte count under a minimum), known (the bytes, or the difference
// hash within a distance, of a reference picture read at start-up by
// LoadReferences), uniform (the sample varies too little), aspect (opt-in).
// A placeholder is refused with a *PlaceholderError (code
// placeholder_image, a stable Reason); nothing is stored and the manifest
// does not move. The pixel measures come from the check's own decode
// (transform.Traits), which also gives the manifest its dominant colour and
// blurhash. A refusal of a book without a cover, and a 404 or 410 from its
// source (ErrSourceGone), carry the cover_status the catalog may show
// (StatusOf: placeholder, missing); a Refusal is what the Kafka consumer
// and the backfill record of them (Outbox.Refused).
//
// Jobs keeps open jobs under an index of their own (jobs-open/), each owned
// under a lease that its owner's heartbeat extends and that others take
// with a conditional write once it has expired (jobs_lease.go); start-up
// reads nothing, finished records expire by the store's lifecycle rule.
//
// Warm and Store take the time that orders the book's covers (an event's
// time, a job's arrival, an import's read): when the book already holds a
// cover at least as new, nothing is fetched or made current and the current
// manifest is the answer, so every caller reports the newest cover.
//
// Originals are stored once by content (content.go): the Warmer's check is
// kept beside each content (info.json) and reused for the next book of the
// same bytes after a header check (no decode); a book's references are
// written before the original is looked for, and its upload skipped when
// the original is stored already; concurrent warms of one content share the
// check and the upload. With TRIM_BORDERS (TrimBorders) the trim box is
// found once per content, after the check, and recorded in the manifest. The
// Prerenderer renders a content's variants once: variants already stored are
// not rendered again, and warms of one content at once share one ladder.
//
// A command stores covers through the same Warmer: import reads a local
// file (ReadFile, refused over the size limit before it is read) and
// stores it (Warmer.Import, its source "import:" and the file's name);
// import and an in-process backfill queue each stored cover's write-back
// with Outbox.RecordStored for the serving replicas to deliver; a backfill
// renders each new cover's PRERENDER variants before its row counts as
// done (Prerenderer.Inline, with its own budget), where serve starts them
// in the background (Prerenderer.Start).
//
// Failures carry stable codes (Code, a cover.Code with its fixed text):
// invalid_url, blocked_address, too_many_redirects, too_large,
// source_rejected, timeout, fetch_failed, unsupported_type, too_many_pixels,
// not_an_image, placeholder_image, storage_unavailable, ... Each error names its code where it
// is made (its sentinel is a cover.NewError); jobCodes lists the codes a
// job can record.
//
// Metrics: covers_ingest_fetches_total{result}, covers_ingest_fetch_duration_seconds,
// covers_ingest_original_bytes_total, covers_ingest_fetch_retries_total,
// covers_ingest_jobs_submitted_total, covers_ingest_jobs_deduplicated_total,
// covers_ingest_jobs_finished_total{result}, covers_ingest_jobs_retries_total,
// covers_ingest_jobs_queued, covers_ingest_jobs_taken_over_total,
// covers_ingest_jobs_lost_lease_total, covers_ingest_job_notify_errors_total,
// covers_panics_total{component="jobs"} (a job
// whose work panicked fails with "internal"; the worker goes on),
// covers_outbox_pending, covers_outbox_oldest_age_seconds (alert on it: a
// write-back that keeps failing is kept, never dropped),
// covers_outbox_recorded_total, covers_outbox_delivered_total,
// covers_outbox_delivery_errors_total, covers_panics_total{component="outbox"},
// covers_ingest_prerenders_total{result="ok|partial|overloaded|busy|error|present"}
// (books whose variants were warmed, or skipped: the render queue was full,
// or MaxPending books were already warming, or every variant was stored
// already by another book of the same cover), covers_ingest_prerendered_variants_total,
// covers_ingest_placeholders_refused_total{reason="tiny|known|uniform|aspect"}.
package ingest
