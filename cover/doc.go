// Package cover is the domain of the service: what a book id is, the output
// formats (format.go: adding a format is one line there, plus its encoder in
// transform) and the size a variant is rendered at (ClampSize: renders
// never enlarge), how a rendered variant of a cover is named, the manifest
// that names a book's current cover, and how a stored object is named for
// other systems. It imports no package of this module; every other package
// may import it.
//
// It also holds the one set of stable error codes (Code, codes.go) with
// their fixed public texts. A package makes the sentinels a client may be
// told about with NewError, naming their code, so the classification
// travels with the error: ingest records the code of a failed job, and
// proxy's one status table maps codes (never another package's sentinels)
// to statuses.
//
// A client of the service reads its error answers back into a code and a
// message with ReadServiceError (answer.go): backfill's --server mode and
// the contact sheet's.
//
// Originals are stored once by content (content.go): a manifest records the
// full SHA-256 of its original (Content) and the trim box its renders crop
// to (Trim), its variants are keyed by content (Manifest.Variant), and
// manifests written before keep the per-book keys.
//
// cache stores these things, ingest takes covers in, proxy serves them.
package cover
