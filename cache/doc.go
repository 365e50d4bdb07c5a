// Package cache keeps everything the service stores: the object store
// (MinIO/S3 or an embedded local directory behind one Store interface, with
// one conformance suite run against both), the manifests that name each
// book's current version (the cover.Manifest of each book, cached with a
// TTL), and the groupcache variant cache. What a book id, a variant key and
// a manifest are, and the keys of a cover's objects, belong to package
// cover; the job queue's and the outbox's keys are here.
//
// Layout in the bucket (cover/keys.go, cover/content.go):
//
//	manifests/{book_id}.json                      the current version, its source and content
//	content/{sha256}/original                     an original, stored once by its bytes
//	content/{sha256}/info.json                    what its ingest check learnt (ingest reuses it)
//	content/{sha256}/variants/{size}.{format}     its rendered variants, whichever book asks
//	content/{sha256}/trim-{L}-{T}-{W}x{H}/...     its variants cropped to a trim box
//	refs/{book_id}/{sha256}, users/{sha256}/{book_id}  which books reference which content
//	meta/{book_id}/{version}.json                 cover metadata (Metas)
//	originals/{book_id}/{version}, variants/{book_id}/{version}/...  covers stored before content keys
//	jobs/{job_id}                                 POST /process job records
//
// Purge (purge.go) removes a book's manifest, its old per-book objects, its
// references, and the objects of every content no book uses any more; its
// comment walks through the race with a warm of the same content.
//
// The embedded local store keeps key a/b/c as the file a.d/b.d/c.obj (the
// suffixes let "a" and "a/b" coexist as in S3 and keep keys off temp files);
// each file starts with a header line "covers-store/1 <content-type>\n", so
// one rename replaces data and type together. Writes are temp file, fsync,
// rename, directory fsync; all access goes through os.Root.
//
// A version is the content hash of the original, so every groupcache key
// is immutable: "@{sha256}/size.format" (with the trim box,
// "@{sha256}/trim-L-T-WxH/size.format") for a manifest that records its
// content, shared by every book of those bytes, and "book/version/size.format"
// for one stored before. The hot index in front of groupcache holds a
// variant under the asking book's key (book, version, trim box, size,
// format), and remembers the trim box of each trimmed version it loaded
// (trims.go), so a versioned URL is answered from memory while the store
// is down. Unversioned URLs are resolved
// through the manifest with a short in-process TTL (MANIFEST_TTL) and
// singleflight. cache imports no project package but cover: rendering reaches
// it as a FillFunc.
//
// A request's store reads share one budget (WithStoreBudget, STORE_TIMEOUT
// in cmd): a caller stops waiting for shared work still reading the store
// when its budget runs out (ErrTimeout), while the shared work goes on
// within its own bound, the same length per store phase from its start.
// Renders are not counted: a fill says when its reads are done
// (StoreReadsDone).
//
// The variant and placeholder caches read through groupcache groups they
// do not create (group.go): groupcache registers groups by name for the
// whole process (a name twice panics), and peers ask each other for a key
// by its group's name. NewVariants and NewPlaceholders build a cache
// without its group; cmd creates each group once per process,
// groupcache.NewGroup(name, c.GroupBytes(), c.Getter()), and hands it over
// with c.Use, which refuses a group of another name than the config's
// GroupName. The names are the same on every replica: the variant group's
// (VariantsConfig.GroupName, "covers") and the placeholders' (the variant
// group's name + "-placeholders"). A cache never handed its group answers
// ErrNoGroup.
//
// The groupcache peer handler (Peers.Handler) answers only requests with
// PEER_SECRET when one is set (401 without, 403 wrong; the pool sends it on
// every peer request) and only for keys the public cover path could produce
// (a KeyCheck that cmd takes from proxy; 400 otherwise).
//
// Placeholders (placeholders.go) are variants too, in a second, small
// groupcache group: a book without a cover maps to one of at most 16
// palette entries (FNV-1a of its id), and each (entry, size, format) is
// rendered once per cluster and kept in memory only (never in the store:
// after a restart it costs one small render again). Their keys
// ("p{entry}/{size}.{format}") live in their own group, so they can never
// name a real variant.
//
// Versions only move forward: each manifest carries the version time that
// orders the book's covers (Manifest.Order). Manifests.Advance replaces a
// manifest only with a later one, compare-and-swap on the object's ETag
// (Store.PutIf with If-Match, If-None-Match for a new book), reading again
// after a lost race; at an equal time the manifest already stored stays.
//
// Metrics: covers_cache_lookups_total{layer="memory|store|render",result},
// covers_cache_manifest_lookups_total{result}, covers_cache_memory_bytes,
// covers_cache_memory_items, covers_cache_store_write_errors_total,
// covers_cache_meta_lookups_total{layer,result}, covers_cache_meta_computations_total{result},
// covers_cache_meta_store_write_errors_total, covers_cache_peers,
// covers_cache_peer_refresh_errors_total, covers_cache_peer_changes_total,
// covers_cache_peer_requests_total{result="served|bad_key|no_secret|wrong_secret"},
// covers_cache_hot_bytes, covers_cache_shed_total,
// covers_cache_placeholder_lookups_total{result="hit|render|error"},
// covers_cache_placeholder_memory_bytes,
// covers_cache_original_lookups_total{result}, covers_cache_original_bytes,
// covers_store_operations_total{op,result}, covers_store_operation_duration_seconds{op},
// covers_panics_total{component="variants|placeholders|manifests|metas|originals"} (a
// fill, load or write behind a response that panicked: it fails alone,
// wrapping ErrPanic with the stack, and the process goes on).
package cache
