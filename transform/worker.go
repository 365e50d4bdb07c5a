package transform

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// ServeWorker is the body of a render worker process: the only place where
// libvips decodes an original. It reads its Config from in, starts libvips
// with every untrusted operation and every loader blocked, lowers its own
// CPU priority, then answers requests one at a time until in is closed
// (the parent went away), which returns nil.
//
// cmd runs it as the hidden "render-worker" subcommand; test binaries run it
// from TestMain. A fatal signal or abort inside a codec ends this process
// only: the parent's Renderer sees the pipe close, replaces the worker and
// answers the render with an error.
func ServeWorker(in io.Reader, out io.Writer, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var cfg Config
	if _, err := readFrame(in, &cfg); err != nil {
		return fmt.Errorf("render worker: read config: %w", err)
	}
	if err := cfg.validateEngine(); err != nil {
		_ = writeFrame(out, responseError(err), nil)
		return fmt.Errorf("render worker: %w", err)
	}
	Startup(cfg, logger)
	blockAllLoaders()
	threads := &threadLowerer{}
	threads.lowerProcess()
	if err := writeFrame(out, workerResponse{}, nil); err != nil {
		return fmt.Errorf("render worker: %w", err)
	}
	e := engine{cfg: cfg, clock: &encodeClock{}}
	for {
		var req workerRequest
		payload, err := readFrame(in, &req)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("render worker: %w", err)
		}
		resetPeakRSS()
		e.clock.spent = 0
		start := time.Now()
		resp, body := e.serve(req, payload)
		resp.WorkNanos, resp.EncodeNanos = int64(time.Since(start)), int64(e.clock.spent)
		resp.PeakRSS = peakRSS()
		if err := writeFrame(out, resp, body); err != nil {
			return fmt.Errorf("render worker: %w", err)
		}
		threads.lowerNew()
	}
}

// serve runs one request. The original is probed again here: the worker
// trusts no decision made outside it.
func (e engine) serve(req workerRequest, src []byte) (resp workerResponse, body []byte) {
	defer func() {
		if p := recover(); p != nil {
			resp, body = responseError(fmt.Errorf("panic in worker: %v: %w", p, ErrRenderFailed)), nil
		}
	}()
	if req.Op == opPlaceholder {
		res, err := e.placeholder(req.Entry, req.Req.Width, req.Req.Height, req.Req.Format)
		if err != nil {
			return responseError(err), nil
		}
		return workerResponse{Width: res.Width, Height: res.Height}, res.Bytes
	}
	info, err := Probe(src, e.cfg.MaxPixels)
	if err != nil {
		return responseError(err), nil
	}
	src = decodable(info, src)
	switch req.Op {
	case opRender:
		dispW, dispH := info.DisplaySize()
		if err := errors.Join(req.Req.validate(), req.Req.validateFor(dispW, dispH)); err != nil {
			return responseError(err), nil
		}
		res, err := e.render(info.Type, src, plan(dispW, dispH, req.Req), req.Req)
		if err != nil {
			return responseError(err), nil
		}
		return workerResponse{Width: res.Width, Height: res.Height}, res.Bytes
	case opLadder:
		return e.serveLadder(info, src, req.Reqs)
	case opMeta:
		m, err := computeMetaOf(info, src, req.Req.Trim) // trim.go
		if err != nil {
			return responseError(err), nil
		}
		return workerResponse{Meta: &m}, nil
	case opTrim:
		dispW, dispH := info.DisplaySize()
		box, err := trimBox(info.Type, src, dispW, dispH, req.Threshold)
		if err != nil {
			return responseError(err), nil
		}
		if box.IsZero() {
			return workerResponse{}, nil
		}
		return workerResponse{Trim: &box}, nil
	case opCheck:
		traits, err := e.checkDecode(info.Type, src)
		if err != nil {
			return responseError(err), nil
		}
		return workerResponse{Traits: &traits}, nil
	}
	return responseError(fmt.Errorf("unknown operation %q: %w", req.Op, ErrInvalidRequest)), nil
}

// resetPeakRSS resets this process's VmHWM to its current RSS (Linux's
// clear_refs "5"), so peakRSS reports the peak of one operation.
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSS is this process's VmHWM in bytes, 0 where /proc cannot tell.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return statusKB(string(b), "VmHWM:") << 10
}

// statusKB reads a "Key:  123 kB" line of /proc/<pid>/status.
func statusKB(status, key string) int64 {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
