package transform

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// MaxLadder is the most outputs one ladder may ask for.
const MaxLadder = 64

// RenderLadder makes several variants of one original in one render worker
// operation, under one slot of the render gate: the original is decoded
// once, at the largest size the requests need, and every output is derived
// from that decoded image (see engine.ladder). Each result has the format,
// width and height the Render of its request would have, and its pixels
// differ from that render's by resampling only (the tests hold them within
// 0.005 SSIM).
//
// Results are in the order of reqs. The error is the first output's error
// (wrapped with its request), or the error of the whole operation: probe,
// gate, worker. RenderLadderEach keeps every output's error.
func (r *Renderer) RenderLadder(ctx context.Context, src []byte, reqs []Request) ([]Result, error) {
	res, errs, err := r.RenderLadderEach(ctx, src, reqs)
	if err != nil {
		return nil, err
	}
	for i, e := range errs {
		if e != nil {
			return nil, fmt.Errorf("transform ladder output %d (%s %dx%d): %w", i, reqs[i].Format, reqs[i].Width, reqs[i].Height, e)
		}
	}
	return res, nil
}

// RenderLadderEach is RenderLadder that reports each output's own error
// (errs[i] for reqs[i]); err is an error of the whole ladder, when no
// output was made.
func (r *Renderer) RenderLadderEach(ctx context.Context, src []byte, reqs []Request) (res []Result, errs []error, err error) {
	if len(reqs) == 0 || len(reqs) > MaxLadder {
		return nil, nil, fmt.Errorf("transform ladder: %d outputs, want 1..%d: %w", len(reqs), MaxLadder, ErrInvalidRequest)
	}
	info, err := Probe(src, r.cfg.MaxPixels)
	if err != nil {
		return nil, nil, fmt.Errorf("transform ladder: %w", err)
	}
	errs = make([]error, len(reqs))
	send := make([]Request, 0, len(reqs))
	idx := make([]int, 0, len(reqs))
	dispW, dispH := info.DisplaySize()
	for i, req := range reqs {
		if err := errors.Join(req.validate(), req.validateFor(dispW, dispH)); err != nil {
			errs[i] = fmt.Errorf("transform ladder: %w", err)
			continue
		}
		if g := plan(dispW, dispH, req); int64(g.width)*int64(g.height) > r.cfg.MaxPixels {
			errs[i] = fmt.Errorf("transform ladder: output %dx%d over %d pixels: %w", g.width, g.height, r.cfg.MaxPixels, ErrTooManyPixels)
			continue
		}
		send, idx = append(send, req), append(idx, i)
	}
	res = make([]Result, len(reqs))
	if len(send) == 0 {
		return res, errs, nil
	}

	release, err := r.acquire(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("transform ladder: %w", err)
	}
	defer release()
	res, err = r.ladderOne(ctx, src, info, send, idx, res, errs)
	if err != nil {
		return nil, nil, err
	}
	return res, errs, nil
}

// ladderOne runs one ladder operation in a worker; the caller holds a slot.
// The result of send[j] goes to res[idx[j]] and errs[idx[j]].
func (r *Renderer) ladderOne(ctx context.Context, src []byte, info Info, send []Request, idx []int, res []Result, errs []error) ([]Result, error) {
	r.renders.Add(1)
	start := time.Now()
	resp, body, err := r.pool.call(ctx, workerRequest{Op: opLadder, Reqs: send}, src)
	r.ladderDuration.UpdateDuration(start)
	r.phases.observeWork(resp)
	if err == nil {
		err = checkLadder(resp, body, len(send))
	}
	if err != nil {
		r.ladders[1].Inc()
		for _, req := range send {
			r.outcomes[req.Format][1].Inc()
		}
		return nil, fmt.Errorf("transform ladder of %d from %s %dx%d: %w", len(send), info.Type, info.Width, info.Height, err)
	}
	r.ladders[0].Inc()
	for j, o := range resp.Outputs {
		i, req := idx[j], send[j]
		if o.Code != "" {
			r.outcomes[req.Format][1].Inc()
			errs[i] = fmt.Errorf("transform ladder %s %dx%d: %w", req.Format, req.Width, req.Height,
				workerResponse{Code: o.Code, Message: o.Message}.err())
			continue
		}
		r.outcomes[req.Format][0].Inc()
		r.ladderOutputs.Inc()
		res[i] = Result{Bytes: body[:o.Len:o.Len], Width: o.Width, Height: o.Height, Format: req.Format, ContentType: req.Format.ContentType()}
		body = body[o.Len:]
	}
	return res, nil
}

// errBadLadder is a worker answer that does not match its ladder request.
var errBadLadder = errors.New("ladder response does not match the request")

// checkLadder checks that a ladder response has one output per request and
// that their lengths add up to the payload.
func checkLadder(resp workerResponse, body []byte, n int) error {
	if len(resp.Outputs) != n {
		return fmt.Errorf("%d outputs for %d requests: %w: %w", len(resp.Outputs), n, errBadLadder, ErrRenderFailed)
	}
	total := 0
	for _, o := range resp.Outputs {
		if o.Len < 0 || o.Code != "" && o.Len != 0 {
			return fmt.Errorf("output length %d: %w: %w", o.Len, errBadLadder, ErrRenderFailed)
		}
		total += o.Len
	}
	if total != len(body) {
		return fmt.Errorf("outputs of %d bytes in a %d-byte payload: %w: %w", total, len(body), errBadLadder, ErrRenderFailed)
	}
	return nil
}
