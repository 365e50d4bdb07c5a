package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// errMalformed reports a response the minimal parser does not understand.
var errMalformed = errors.New("loadbench: malformed response")

// conn is one keep-alive HTTP/1.1 connection with a minimal response parser.
// It reads the status, Content-Length, Retry-After and Connection headers
// and discards the body: a load client that costs a few microseconds per
// request, the same for every server it drives.
type conn struct {
	addr string
	c    net.Conn
	br   *bufio.Reader
}

// response is what the client keeps of an answer.
type response struct {
	status     int
	retryAfter bool
	bodyLen    int
}

func newConn(addr string) *conn { return &conn{addr: addr} }

func (c *conn) dial() error {
	nc, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("dial %s: %w", c.addr, err)
	}
	c.c = nc
	if c.br == nil {
		c.br = bufio.NewReaderSize(nc, 32<<10)
	} else {
		c.br.Reset(nc)
	}
	return nil
}

func (c *conn) close() {
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
}

// do sends one request (complete HTTP/1.1 bytes) and reads the answer. On
// any error the connection is closed; the next call dials again.
func (c *conn) do(req []byte) (response, error) {
	if c.c == nil {
		if err := c.dial(); err != nil {
			return response{}, err
		}
	}
	resp, closeAfter, err := c.roundTrip(req)
	if err != nil || closeAfter {
		c.close()
	}
	return resp, err
}

func (c *conn) roundTrip(req []byte) (resp response, closeAfter bool, err error) {
	if _, err := c.c.Write(req); err != nil {
		return resp, true, err
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return resp, true, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return resp, true, fmt.Errorf("status line %q: %w", line, errMalformed)
	}
	if resp.status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return resp, true, fmt.Errorf("status line %q: %w", line, errMalformed)
	}
	length, chunked := -1, false
	for {
		line, err = c.br.ReadSlice('\n')
		if err != nil {
			return resp, true, err
		}
		if len(line) <= 2 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return resp, true, fmt.Errorf("header %q: %w", line, errMalformed)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return resp, true, fmt.Errorf("content-length %q: %w", value, errMalformed)
			}
		case bytes.EqualFold(name, []byte("Retry-After")):
			resp.retryAfter = len(value) > 0
		case bytes.EqualFold(name, []byte("Connection")):
			closeAfter = bytes.EqualFold(value, []byte("close"))
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		}
	}
	if chunked {
		n, err := c.discardChunks()
		resp.bodyLen = n
		return resp, closeAfter || err != nil, err
	}
	if length < 0 {
		return resp, true, fmt.Errorf("no Content-Length: %w", errMalformed)
	}
	if _, err := c.br.Discard(length); err != nil {
		return resp, true, err
	}
	resp.bodyLen = length
	return resp, closeAfter, nil
}

// getRequest is the wire form of a GET of pathAndQuery.
func getRequest(host, pathAndQuery string) []byte {
	return []byte("GET " + pathAndQuery + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: loadbench\r\n\r\n")
}

// discardChunks reads a chunked body (and its trailer) and returns its size.
func (c *conn) discardChunks() (int, error) {
	total := 0
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return total, err
		}
		sizeHex, _, _ := bytes.Cut(bytes.TrimSpace(line), []byte(";"))
		size, err := strconv.ParseInt(string(sizeHex), 16, 64)
		if err != nil || size < 0 {
			return total, fmt.Errorf("chunk size %q: %w", line, errMalformed)
		}
		if size == 0 {
			for { // trailer, up to the empty line
				line, err := c.br.ReadSlice('\n')
				if err != nil {
					return total, err
				}
				if len(line) <= 2 {
					return total, nil
				}
			}
		}
		if _, err := c.br.Discard(int(size) + 2); err != nil { // data and its CRLF
			return total, err
		}
		total += int(size)
	}
}
