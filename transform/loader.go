package transform

/*
#cgo pkg-config: vips
#include <vips/vips.h>

static void cover_block_untrusted(void) { vips_block_untrusted_set(TRUE); }
static void cover_block(const char *name, int state) { vips_operation_block_set(name, state); }
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// loaderClasses names the one libvips buffer loader allowed for each type
// Probe decides. A render worker keeps every loader blocked and unblocks the
// one for the original's type around each decode, so libvips cannot sniff
// the bytes and hand them to another loader (a TGA behind an ftyp box once
// reached ImageMagick that way): if libvips' own sniffing picks any other
// loader, that loader is blocked and the decode fails.
var loaderClasses = map[SourceType]string{
	TypeJPEG: "VipsForeignLoadJpegBuffer",
	TypePNG:  "VipsForeignLoadPngBuffer",
	TypeGIF:  "VipsForeignLoadNsgifBuffer",
	TypeWebP: "VipsForeignLoadWebpBuffer",
	TypeAVIF: "VipsForeignLoadHeifBuffer",
	TypeHEIF: "VipsForeignLoadHeifBuffer",
	TypeTIFF: "VipsForeignLoadTiffBuffer",
}

// allLoaders is the base class of every libvips loader.
const allLoaders = "VipsForeignLoad"

// loaderMu serialises the process-wide block state. A worker runs one
// operation at a time, so it never waits on it.
var (
	loaderMu      sync.Mutex
	loadersLocked bool // every loader blocked at rest (render workers)
)

// blockUntrusted blocks libvips' untrusted operations (ImageMagick, poppler,
// librsvg, OpenSlide, matio, cfitsio and the other loaders libvips marks
// VIPS_OPERATION_UNTRUSTED) for the life of the process.
func blockUntrusted() { C.cover_block_untrusted() }

// blockAllLoaders blocks every loader for good; withLoader opens one at a
// time. Render workers call it at start-up.
func blockAllLoaders() {
	loaderMu.Lock()
	defer loaderMu.Unlock()
	setBlocked(allLoaders, true)
	loadersLocked = true
}

// withLoader runs f with only the buffer loader of t unblocked. In a worker
// every loader is blocked again afterwards; in any other process (tests,
// the contact-sheet command, which decode their own outputs) the loaders
// are unblocked again, except the untrusted ones. It refuses a type with no
// loader of ours.
func withLoader(t SourceType, f func() error) error {
	name, ok := loaderClasses[t]
	if !ok {
		return fmt.Errorf("no loader for %q: %w", t, ErrNotAnImage)
	}
	loaderMu.Lock()
	defer loaderMu.Unlock()
	if !loadersLocked {
		setBlocked(allLoaders, true)
		defer func() {
			setBlocked(allLoaders, false)
			blockUntrusted()
		}()
	}
	setBlocked(name, false)
	defer setBlocked(name, true)
	return f()
}

func setBlocked(class string, blocked bool) {
	name := C.CString(class)
	defer C.free(unsafe.Pointer(name))
	state := C.int(0)
	if blocked {
		state = 1
	}
	C.cover_block(name, state)
}
