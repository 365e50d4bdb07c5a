// Package contactsheet makes the contact sheet of a book: every preset
// (COVER_SIZES) of its current cover side by side in one PNG, each
// labelled with its name and pixel size. It is the work of
// `image-worker contact-sheet` (docs/backfill.md, "Checking a book").
//
// What it does:
//   - Presets orders the presets by width, then name.
//   - A Source gathers one panel (an encoded variant) per preset: Local
//     renders each from the stored original of the book's current version
//     with the fill function the variant cache uses on a miss, so the
//     sheet shows what the service would serve; Server fetches each from a
//     running service with a signed GET, as a client does. A book without
//     a cover is ErrNoCover, from either (a placeholder answer from the
//     service counts as none).
//   - Make has the panels composed (transform.ComposeContactSheet, which
//     decodes them with libvips in this process) and writes the PNG
//     atomically: a temporary file beside the target, renamed over it, so
//     a failed run leaves no partial sheet.
//
// What it does not: read the environment or flags, start libvips (cmd
// calls transform.Startup first), build the store, the manifests or the
// renderer (cmd assembles them and hands Local its Manifests and Fill),
// or hold a signing key (Server is given a Signer).
//
// Metrics: none; it is a one-off command.
package contactsheet
