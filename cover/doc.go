// Package cover is the domain of the service: what a book id is, the output
// formats (format.go: adding a format is one line there, plus its encoder in
// transform) and the size a variant is rendered at (ClampSize: renders
// never enlarge), how a rendered variant of a cover is named, the manifest
// that names a book's current cover, and how a stored object is named for
// other systems. It imports no package of this module; every other package
// may import it.
//
// cache stores these things, ingest takes covers in, proxy serves them.
package cover
