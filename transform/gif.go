package transform

// firstGIFFrame cuts a GIF down to its first frame: the header, the global
// colour table, every block up to and including the first image, then the
// trailer. Only the first frame is ever rendered, and libvips (libnsgif)
// refuses a GIF with thousands of frames outright, so renders of such a file
// see one frame. Input that Probe accepted is well-formed up to that frame.
func firstGIFFrame(b []byte) []byte {
	if len(b) < 13 {
		return b
	}
	i := 13
	if flags := b[10]; flags&0x80 != 0 {
		i += 3 << ((flags & 7) + 1)
	}
	for i < len(b) {
		switch b[i] {
		case 0x21:
			i = skipSubBlocks(b, i+2)
		case 0x2C:
			if i+10 > len(b) {
				return b
			}
			flags := b[i+9]
			i += 10
			if flags&0x80 != 0 {
				i += 3 << ((flags & 7) + 1)
			}
			i = skipSubBlocks(b, i+1)
			if i > len(b) {
				return b
			}
			out := make([]byte, i+1)
			copy(out, b[:i])
			out[i] = 0x3B
			return out
		default:
			return b
		}
	}
	return b
}

// decodable returns what libvips should decode of a probed original: the
// first frame alone for a multi-frame GIF, the original otherwise.
func decodable(info Info, src []byte) []byte {
	if info.Type == TypeGIF && info.Frames > 1 {
		return firstGIFFrame(src)
	}
	return src
}
