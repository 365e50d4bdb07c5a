package transform

/*
#cgo pkg-config: vips
#include <vips/vips.h>

// cover_copy_memory renders in into a new memory image (a new reference;
// in itself is untouched), or returns NULL with the error in vips' buffer.
static VipsImage *cover_copy_memory(VipsImage *in) { return vips_image_copy_memory(in); }

static void cover_unref(VipsImage *im) { g_object_unref(im); }

static const char *cover_error_buffer(void) { return vips_error_buffer(); }
static void cover_error_clear(void) { vips_error_clear(); }
*/
import "C"

import (
	"errors"
	"fmt"
	"reflect"
	"unsafe"

	"github.com/davidbyttow/govips/v2/vips"
)

// errNoMaterialise reports that this govips cannot have its image swapped
// for a memory copy (its ImageRef layout changed); the ladder then renders
// each output on its own.
var errNoMaterialise = errors.New("govips ImageRef has no image field to materialise")

// imageFieldOffset is the offset of govips' unexported ImageRef.image
// (*C.VipsImage), or -1 when the field is missing or not a pointer.
var imageFieldOffset = func() uintptr {
	f, ok := reflect.TypeFor[vips.ImageRef]().FieldByName("image")
	if !ok || f.Type.Kind() != reflect.Pointer || f.Type.Elem().Name() != "_Ctype_struct__VipsImage" {
		return ^uintptr(0)
	}
	return f.Offset
}()

// materialise computes img's whole pipeline once into memory and makes img
// that memory image, so that several outputs can be derived from it: the
// pipeline of vips_thumbnail_buffer reads its loader sequentially, so it
// can be evaluated only once (a second pass is an out-of-order read) and
// would decode again if it could. govips has no vips_image_copy_memory, so
// this swaps the image pointer inside the ImageRef (owned by this goroutine,
// one reference given back, one taken).
func materialise(img *vips.ImageRef) error {
	return replaceImage(img, "copy to memory", func(in *C.VipsImage) *C.VipsImage { return C.cover_copy_memory(in) })
}

// replaceImage makes img the image op returns for its current image (a new
// reference, or NULL on error). govips does not expose
// vips_image_copy_memory, so this swaps the image pointer
// inside the ImageRef, which the calling goroutine owns: the old reference
// is given back, the new one kept (govips unrefs it when img is closed).
func replaceImage(img *vips.ImageRef, what string, op func(in *C.VipsImage) *C.VipsImage) error {
	if imageFieldOffset == ^uintptr(0) {
		return errNoMaterialise
	}
	field := (**C.VipsImage)(unsafe.Add(unsafe.Pointer(img), imageFieldOffset))
	in := *field
	if in == nil {
		return errNoMaterialise
	}
	out := op(in)
	if out == nil {
		msg := C.GoString(C.cover_error_buffer())
		C.cover_error_clear()
		return vipsFailed(what, errors.New(msg))
	}
	*field = out
	C.cover_unref(in)
	return nil
}

// materialised reports whether the image behind img is a memory image (for
// tests).
func materialised(img *vips.ImageRef) (bool, error) {
	if imageFieldOffset == ^uintptr(0) {
		return false, errNoMaterialise
	}
	in := *(**C.VipsImage)(unsafe.Add(unsafe.Pointer(img), imageFieldOffset))
	if in == nil {
		return false, fmt.Errorf("nil image: %w", errNoMaterialise)
	}
	return in.dtype == C.VIPS_IMAGE_SETBUF, nil
}
