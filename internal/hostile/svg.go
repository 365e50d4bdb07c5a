package hostile

import (
	"fmt"
	"strings"
)

// SVG is a small SVG document of w x h holding a script element: vector
// input, which the service refuses by type whatever it holds.
func SVG(w, h int) []byte {
	return fmt.Appendf(nil, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d"><script>alert(1)</script><rect width="100%%" height="100%%"/></svg>`, w, h)
}

// SVGEntityBomb is an SVG behind a byte order mark and an XML declaration
// whose internal DTD nests entities ten deep ("billion laughs"): a parser
// that expands them builds three gigabytes of text from a few hundred bytes.
func SVGEntityBomb() []byte {
	b := []byte("\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<!DOCTYPE svg [\n<!ENTITY l0 \"lol\">\n")
	for i := 1; i < 10; i++ {
		b = fmt.Appendf(b, "<!ENTITY l%d \"%s\">\n", i, strings.Repeat(fmt.Sprintf("&l%d;", i-1), 10))
	}
	return append(b, "]>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"400\" height=\"600\"><text>&l9;</text></svg>\n"...)
}
