package transform

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/bookcovers/image-worker/cover"
)

// The parent and a render worker talk over the worker's stdin and stdout in
// frames: a 4-byte big-endian length and a JSON header, then a 4-byte length
// and the raw payload (an original in, an encoded image out). The first
// frame the parent sends holds the worker's Config; the worker answers it
// with an empty response once libvips is up. After that each request gets
// exactly one response, in order.

// maxFrame bounds what either side will read: a payload over 1 GiB is a
// broken peer, never an image.
const (
	maxHeader = 1 << 20
	maxFrame  = 1 << 30
)

type workerOp string

const (
	opRender      workerOp = "render"
	opMeta        workerOp = "meta"
	opPlaceholder workerOp = "placeholder"
	opCheck       workerOp = "check"
	opLadder      workerOp = "ladder"
	opTrim        workerOp = "trim"
)

// workerRequest is the header of one request; the payload is the original
// (empty for placeholders).
type workerRequest struct {
	Op  workerOp `json:"op"`
	Req Request  `json:"req,omitzero"`
	// Reqs are the outputs of a ladder (opLadder), all from one decode.
	Reqs  []Request `json:"reqs,omitempty"`
	Entry int       `json:"entry,omitempty"` // placeholders: the palette entry
	// Threshold is find_trim's (opTrim); 0 means DefaultTrimThreshold.
	Threshold float64 `json:"threshold,omitempty"`
}

// workerResponse is the header of one response; the payload is the encoded
// image of a render or placeholder.
type workerResponse struct {
	// Code is "" on success, else the error class (errorCodes).
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	Width   int    `json:"width,omitempty"`
	Height  int    `json:"height,omitempty"`
	Meta    *Meta  `json:"meta,omitempty"`
	// Trim is the box TrimBox found (opTrim); absent when there is none.
	Trim *cover.Rect `json:"trim,omitempty"`
	// Traits are what a check learnt of the original's pixels.
	Traits *Traits `json:"traits,omitempty"`
	// Outputs describe a ladder's outputs, in the order of its requests;
	// the payload is their bytes, one after another.
	Outputs []ladderOutput `json:"outputs,omitempty"`
	// PeakRSS is the worker's peak resident set during this operation
	// (VmHWM, reset before each operation), in bytes; 0 where unknown.
	PeakRSS int64 `json:"peak_rss,omitempty"`
	// WorkNanos is the time the worker spent on the operation, EncodeNanos
	// the part of it in the encoders (phases).
	WorkNanos   int64 `json:"work_ns,omitempty"`
	EncodeNanos int64 `json:"encode_ns,omitempty"`
}

// errorCodes carries a sentinel error across the pipe.
var errorCodes = []struct {
	code string
	err  error
}{
	{"not_an_image", ErrNotAnImage},
	{"unsupported_type", ErrUnsupportedType},
	{"unsupported_format", cover.ErrUnsupportedFormat},
	{"too_many_pixels", ErrTooManyPixels},
	{"invalid_request", ErrInvalidRequest},
	{"render_failed", ErrRenderFailed},
}

// responseError turns err into a response with its class and message.
func responseError(err error) workerResponse {
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			return workerResponse{Code: c.code, Message: err.Error()}
		}
	}
	return workerResponse{Code: "render_failed", Message: err.Error()}
}

// err is the error a response carries, wrapping the sentinel of its class.
func (r workerResponse) err() error {
	if r.Code == "" {
		return nil
	}
	for _, c := range errorCodes {
		if c.code == r.Code {
			return fmt.Errorf("%w (in worker: %s)", c.err, r.Message)
		}
	}
	return fmt.Errorf("%w (in worker, class %q: %s)", ErrRenderFailed, r.Code, r.Message)
}

// writeFrame writes a JSON header and a payload.
func writeFrame(w io.Writer, header any, payload []byte) error {
	h, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("encode frame header: %w", err)
	}
	buf := make([]byte, 0, 8+len(h))
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(h)))
	buf = append(buf, h...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(payload)))
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	if len(payload) > 0 {
		if _, err := w.Write(payload); err != nil {
			return fmt.Errorf("write frame payload: %w", err)
		}
	}
	return nil
}

// readFrame reads a frame into header and returns its payload.
func readFrame(r io.Reader, header any) ([]byte, error) {
	h, err := readChunk(r, maxHeader)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(h, header); err != nil {
		return nil, fmt.Errorf("decode frame header: %w", err)
	}
	return readChunk(r, maxFrame)
}

func readChunk(r io.Reader, limit uint32) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > limit {
		return nil, fmt.Errorf("frame of %d bytes over the %d limit", size, limit)
	}
	if size == 0 {
		return nil, nil
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("read frame: %w", err)
	}
	return b, nil
}
