package transform

/*
#cgo pkg-config: vips
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

// Every loader class, found once, and the block flag each has at rest.
// Decodes then flip the flags of these classes in memory: walking GLib's
// type tree on every decode (vips_operation_block_set) takes GLib's type
// lock each time, and a fuzz run showed that walk stuck on that lock
// against another thread finalizing an object.
#define COVER_MAX_LOADERS 512
static VipsOperationClass *cover_loaders[COVER_MAX_LOADERS];
static int cover_rest[COVER_MAX_LOADERS];
static int cover_n;

static void *cover_collect(VipsObjectClass *cls, void *a) {
	if (cover_n < COVER_MAX_LOADERS)
		cover_loaders[cover_n++] = (VipsOperationClass *) cls;
	return NULL;
}

static void cover_block_untrusted(void) { vips_block_untrusted_set(TRUE); }

// cover_collect_loaders finds every loader class (after untrusted ones are
// blocked) and records its current block flag as its rest state.
static int cover_collect_loaders(void) {
	GType base = g_type_from_name("VipsForeignLoad");
	cover_n = 0;
	if (!base)
		return 0;
	vips_class_map_all(base, cover_collect, NULL);
	for (int i = 0; i < cover_n; i++)
		cover_rest[i] = (cover_loaders[i]->flags & VIPS_OPERATION_BLOCKED) != 0;
	return cover_n;
}

// cover_loader_index is the index of the loader class called name, or -1.
static int cover_loader_index(const char *name) {
	for (int i = 0; i < cover_n; i++)
		if (strcmp(G_OBJECT_CLASS_NAME(cover_loaders[i]), name) == 0)
			return i;
	return -1;
}

static void cover_set(int i, int blocked) {
	if (blocked)
		cover_loaders[i]->flags |= VIPS_OPERATION_BLOCKED;
	else
		cover_loaders[i]->flags &= ~VIPS_OPERATION_BLOCKED;
}

// cover_block_all_at_rest makes "every loader blocked" the rest state.
static void cover_block_all_at_rest(void) {
	for (int i = 0; i < cover_n; i++) {
		cover_rest[i] = 1;
		cover_set(i, 1);
	}
}

// cover_only blocks every loader but the one at index only.
static void cover_only(int only) {
	for (int i = 0; i < cover_n; i++)
		cover_set(i, i != only);
}

// cover_rest_all puts every loader back in its rest state.
static void cover_rest_all(void) {
	for (int i = 0; i < cover_n; i++)
		cover_set(i, cover_rest[i]);
}
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// loaderClasses names the one libvips buffer loader allowed for each type
// Probe decides. Around each decode every other loader is blocked, so
// libvips cannot sniff the bytes and hand them to another loader (a TGA
// behind an ftyp box once reached ImageMagick that way): if libvips' own
// sniffing picks any other loader, that loader is blocked and the decode
// fails.
var loaderClasses = map[SourceType]string{
	TypeJPEG: "VipsForeignLoadJpegBuffer",
	TypePNG:  "VipsForeignLoadPngBuffer",
	TypeGIF:  "VipsForeignLoadNsgifBuffer",
	TypeWebP: "VipsForeignLoadWebpBuffer",
	TypeAVIF: "VipsForeignLoadHeifBuffer",
	TypeHEIF: "VipsForeignLoadHeifBuffer",
	TypeTIFF: "VipsForeignLoadTiffBuffer",
}

// loaderMu serialises the process-wide block flags. A worker runs one
// operation at a time, so it never waits on it.
var (
	loaderMu    sync.Mutex
	loadersOnce sync.Once
	loaderIndex map[SourceType]int
)

// blockUntrusted blocks libvips' untrusted operations (ImageMagick, poppler,
// librsvg, OpenSlide, matio, cfitsio and the other loaders libvips marks
// VIPS_OPERATION_UNTRUSTED) for the life of the process.
func blockUntrusted() { C.cover_block_untrusted() }

// collectLoaders finds the loader classes once (libvips must be started).
func collectLoaders() {
	loadersOnce.Do(func() {
		C.cover_collect_loaders()
		loaderIndex = map[SourceType]int{}
		for t, name := range loaderClasses {
			cname := C.CString(name)
			loaderIndex[t] = int(C.cover_loader_index(cname))
			C.free(unsafe.Pointer(cname))
		}
	})
}

// blockAllLoaders makes every loader blocked at rest; withLoader opens one
// at a time. Render workers call it at start-up.
func blockAllLoaders() {
	loaderMu.Lock()
	defer loaderMu.Unlock()
	collectLoaders()
	C.cover_block_all_at_rest()
}

// withLoader runs f with only the buffer loader of t unblocked, then puts
// every loader back in its rest state: blocked in a worker; in any other
// process (tests, the contact-sheet command, which decode their own
// outputs) open, except the untrusted ones. It refuses a type with no
// loader of ours. libvips checks the flag only when it builds a loader, so
// f needs to cover just the call that builds it (vips_thumbnail_buffer);
// the pixels are decoded later by the loader already built.
func withLoader(t SourceType, f func() error) error {
	loaderMu.Lock()
	defer loaderMu.Unlock()
	collectLoaders()
	i, ok := loaderIndex[t]
	if !ok || i < 0 {
		return fmt.Errorf("no loader for %q: %w", t, ErrNotAnImage)
	}
	C.cover_only(C.int(i))
	defer C.cover_rest_all()
	return f()
}
