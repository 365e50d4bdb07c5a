// Package hostile builds hostile image files in code, for the tests of every
// package that takes originals in (transform, ingest, cmd/image-worker) and
// the soak of the binary (systemtest).
//
// Each generator returns the bytes of one file whose every field is chosen by
// its arguments, so that a test can say exactly what the file declares: GIFs
// whose frames lie beyond their logical screen, animated WebPs whose frames
// lie beyond their canvas, ISO-BMFF files whose brands mislead a loader,
// HEIF grids, overlays and identities whose tiles add up to more pixels than
// their output, multi-page and tiled TIFFs, PNGs with broken IHDRs, a PNG
// zlib bomb, JPEGs and GIFs that declare far more pixels than they hold,
// JPEGs with a comment segment, and cuts of real files. It also draws the
// pictures publishers send instead of a cover (placeholder.go): Open
// Library's 1x1 GIF, a flat grey card, a "no image available" picture.
//
// Classes lists one or more files of every hostile class, each with the
// stable job error code an ingest of it must end with at the service's
// default pixel limit, MaxPixels. Files that libvips must decode to be
// judged (a real JPEG, PNG, GIF, WebP, AVIF and HEIC to cut, or to corrupt)
// are passed in by the caller through Real, read from testdata/.
//
// What it does not do: it imports no package of this module (transform's own
// tests import it) and nothing but the standard library, so it cannot encode
// real pixels through libvips; generators that need a codec take
// already-encoded bytes (CodedImage, Real) instead, or use the standard
// library's (PNGGrey, JPEGDeclaring, GIFScreen). It decides nothing about
// the files either: what a file is refused with is stated in Classes and
// checked by the tests of transform, which run every class through Probe,
// CheckOriginal and a real decode. It keeps no state and reads no files but
// those ReadReal is pointed at. Every function returns new slices the
// caller may modify.
//
// Metrics: none.
package hostile
