package transform

// CheckHeader is the part of Check that decodes nothing: CheckOriginal
// (type by magic bytes, header dimensions, the decoder's allocation, the
// pixel limit, the end markers) under this renderer's limits. Ingest
// compares it with a check it stored for the same bytes before reusing
// that check instead of decoding them again.
func (r *Renderer) CheckHeader(src []byte) (Info, error) {
	return CheckOriginal(src, r.cfg.MaxPixels)
}
