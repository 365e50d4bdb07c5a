// Package backfill warms a whole catalog: it reads a CSV or JSON Lines
// file of book ids and cover URLs and warms every row, a bounded number at
// a time, with a progress line, a failures file and an interrupt that lets
// the rows in flight finish. It is the work of `image-worker backfill`
// (docs/backfill.md).
//
// What it does:
//   - CheckInput reads the input once before any work: the header (CSV:
//     book_id and image_url columns; JSON Lines: one object per line), and
//     the number of rows for the progress total. A file that cannot be
//     used as a whole is an ErrInput; a bad row is never one: it becomes a
//     failure with a code (invalid_row, missing_field) and the run goes on.
//   - Run warms the rows in file order, Config.Concurrency at once; the
//     rows of one book run one after another, so its last row wins. Failed
//     rows go to a CSV file (book_id,image_url,code,message, a valid input
//     itself) flushed row by row. Progress goes to stderr: on a terminal
//     one redrawn line (github.com/schollz/progressbar draws its bar),
//     otherwise a plain line every Config.ProgressEvery; both show the
//     rate over the last 10 seconds and the ETA it gives. The summary goes
//     to stdout. When the context ends no new row starts
//     and the rows in flight finish; a second SIGINT or SIGTERM abandons
//     them. Run's error says whether rows failed or the run was
//     interrupted (ErrInterrupted). A row whose original was refused as a
//     placeholder (code placeholder_image) is a final answer, not a
//     failure: it is listed in the failures file (its message starts with
//     the reason) and counted by reason in the progress and the summary
//     ("refused as placeholders: 3 (tiny 1, known 1, uniform 1)"), and it
//     does not make Run fail.
//   - Rows are warmed by a RowWarmer: LocalWarmer, in this process, with
//     the service's Warmer, its manifests (to tell a book already at its
//     URL, "skipped"), a RecordFunc that queues each stored cover's
//     write-back and a RecordRefusalFunc that queues a refusal's (a warm
//     refused because the render queue is full is tried again with backoff
//     within the row's budget, so a high --concurrency waits for the
//     render workers instead of failing rows as overloaded); or
//     ServerWarmer (which reads a job's code and reason from GET /jobs), through a running service (POST
//     /process, then GET /jobs/{id}), retrying 429 and 503 after
//     Retry-After.
//
// What it does not: read the environment or flags (cmd does, and builds the
// Warmer, the store and the outbox it is given), fetch, validate or store
// an original itself (ingest does, behind the Warmer interface), deliver
// write-backs (the serving replicas do), or keep state between runs: a
// re-run skips what is already warmed because the Warmer is idempotent.
//
// Wrong settings (Config.Validate, the server URL, a failures file that is
// the input) wrap ErrSetting and name the flag that sets them.
//
// Metrics: none; a run reports its counts in its progress and summary.
package backfill
