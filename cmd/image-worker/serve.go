package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/bookcovers/image-worker/internal/cli"
	"github.com/bookcovers/image-worker/proxy"
)

// shutdownGrace bounds the drain of in-flight requests and jobs.
const shutdownGrace = 25 * time.Second

// serveCmd runs the HTTP service; its configuration comes from the
// environment (README, Configuration).
func serveCmd(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	pos, err := parseFlags(fs, args, stdout)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("%w: serve takes no arguments (its configuration is the environment)", cli.ErrUsage)
	}
	cfg, err := loadConfig(lookup)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	logger := newLogger(stderr, cfg.LogLevel)
	exposeMetricMetadata()
	store, err := newStore(ctx, cfg, logger)
	if err != nil {
		return fmt.Errorf("open object store: %w", err)
	}
	a, err := newApp(ctx, cfg, store, logger, stderr)
	if err != nil {
		return err
	}
	pub, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.ListenAddr, err)
	}
	internal, err := net.Listen("tcp", cfg.InternalAddr)
	if err != nil {
		pub.Close()
		return fmt.Errorf("listen %s: %w", cfg.InternalAddr, err)
	}
	return a.serve(ctx, pub, internal)
}

// serve runs until ctx ends, then shuts down in reverse order: stop taking
// requests, drain them, then stop the job workers.
func (a *app) serve(ctx context.Context, pub, internal net.Listener) error {
	if err := a.startOutbox(); err != nil { // delivers in the background: never blocks start-up
		pub.Close()
		internal.Close()
		return err
	}
	if err := a.jobs.Start(ctx); err != nil {
		_ = a.stopOutbox(ctx)
		pub.Close()
		internal.Close()
		return err
	}
	if a.peers != nil {
		go a.peers.Run(ctx)
	}
	consumerCtx, stopConsumer := context.WithCancel(ctx)
	defer stopConsumer()
	consumerDone := make(chan error, 1)
	if a.consumer != nil {
		go func() { consumerDone <- a.consumer.Run(consumerCtx) }()
	} else {
		consumerDone <- nil
	}
	pubSrv := proxy.NewHTTPServer(pub.Addr().String(), a.publicHandler(), a.cfg.Timeouts, a.log)
	intSrv := proxy.NewHTTPServer(internal.Addr().String(), a.internalHandler(), a.cfg.Timeouts, a.log)
	errc := make(chan error, 2)
	go func() { errc <- pubSrv.Serve(pub) }()
	go func() { errc <- intSrv.Serve(internal) }()
	a.log.Info("serving", "public_addr", pub.Addr().String(), "internal_addr", internal.Addr().String())

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	// Readiness first: load balancers stop sending new requests while the
	// listeners keep serving for SHUTDOWN_DELAY, then in-flight ones drain.
	a.draining.Store(true)
	if serveErr == nil && a.cfg.ShutdownDelay > 0 {
		a.log.Info("draining: not ready, still serving", "delay_ms", a.cfg.ShutdownDelay.Milliseconds())
		time.Sleep(a.cfg.ShutdownDelay)
	}
	a.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	errs := []error{serveErr}
	errs = append(errs, pubSrv.Shutdown(sctx), intSrv.Shutdown(sctx))
	a.http.Close()                              // the access lines of the drained requests
	errs = append(errs, a.variants.Flush(sctx)) // variants written behind their responses
	stopConsumer()
	select {
	case err := <-consumerDone:
		errs = append(errs, err)
		if a.consumer != nil {
			a.consumer.Close()
		}
	case <-sctx.Done():
		errs = append(errs, fmt.Errorf("kafka consumer did not stop: %w", sctx.Err()))
	}
	errs = append(errs, a.jobs.Stop(sctx))
	errs = append(errs, a.prerender.Wait(sctx)) // after the jobs and the consumer that start them; before the renderer
	errs = append(errs, a.stopOutbox(sctx))     // after the jobs, which record into it; before the outlets it delivers to
	errs = append(errs, a.renderer.Close())     // after the jobs: they check originals in the workers
	a.outlets.Close()
	var out []error
	for _, e := range errs {
		if e != nil && !errors.Is(e, http.ErrServerClosed) {
			out = append(out, e)
		}
	}
	return errors.Join(out...)
}
